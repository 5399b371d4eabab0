"""The database schema: every migration, in order. Append-only: never edit a migration that has
shipped, add a new one (`Store.migrate` applies what a database lacks, and refuses a database
that has migrations this version does not know)."""

from __future__ import annotations

# Append-only: never edit a migration that has shipped; add a new one.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',      -- running | complete | interrupted | failed
            model TEXT NOT NULL,
            base_url TEXT NOT NULL,                      -- redacted: no credentials
            params_json TEXT NOT NULL,                   -- GenParams and run options
            suites_json TEXT NOT NULL,                   -- [{name, path, sha256}]
            manifest_json TEXT NOT NULL DEFAULT '{}',
            local_model_json TEXT,                       -- embedded model facts when it was used
            label TEXT NOT NULL DEFAULT '',
            stats_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE queries (
            run_id TEXT NOT NULL REFERENCES runs(id),
            id TEXT NOT NULL,
            suite TEXT NOT NULL,
            claim_id TEXT NOT NULL,
            framing TEXT NOT NULL,
            prompt_idx INTEGER NOT NULL,
            prompt TEXT NOT NULL,
            messages_json TEXT NOT NULL,
            sample_idx INTEGER NOT NULL,
            cache_key TEXT NOT NULL,
            PRIMARY KEY (run_id, id)
        );
        CREATE INDEX queries_claim ON queries(run_id, claim_id);
        CREATE TABLE responses (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            query_id TEXT NOT NULL,
            cache_key TEXT NOT NULL,
            text TEXT,
            finish_reason TEXT,
            latency_ms REAL,
            from_cache INTEGER NOT NULL DEFAULT 0,
            raw_request_json TEXT,
            raw_response_json TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (run_id, query_id)
        );
        CREATE TABLE errors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            query_id TEXT,
            attempt INTEGER NOT NULL DEFAULT 1,
            kind TEXT NOT NULL,                          -- rate_limit | server | timeout | connection | auth | malformed | other
            status_code INTEGER,
            message TEXT NOT NULL,
            final INTEGER NOT NULL DEFAULT 0,            -- 1: retries exhausted, query recorded as failed
            created_at TEXT NOT NULL
        );
        CREATE INDEX errors_run ON errors(run_id, query_id);
        CREATE TABLE cache (
            key TEXT PRIMARY KEY,                        -- sha256 of canonical JSON of the request
            kind TEXT NOT NULL,                          -- probe | judge | embed
            value_json TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
    (
        "0002_analysis",
        """
        CREATE TABLE stances (
            response_id TEXT NOT NULL,
            judge TEXT NOT NULL,                         -- judge setting asked for: rules | llm | cascade
            label TEXT NOT NULL,
            confidence REAL NOT NULL,
            judged_by TEXT NOT NULL,                     -- who actually decided, e.g. llm:qwen
            rationale TEXT NOT NULL DEFAULT '',
            disagreement TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (response_id, judge)
        );
        CREATE TABLE analyses (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            judge TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running',      -- running | complete
            summary_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX analyses_run ON analyses(run_id, created_at);
        CREATE TABLE clusters (
            analysis_id TEXT NOT NULL REFERENCES analyses(id),
            claim_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            size INTEGER NOT NULL,
            representative_response_id TEXT NOT NULL,
            representative_text TEXT NOT NULL,
            stance_counts_json TEXT NOT NULL,
            member_ids_json TEXT NOT NULL,
            mixed INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (analysis_id, claim_id, idx)
        );
        CREATE TABLE distributions (
            analysis_id TEXT NOT NULL REFERENCES analyses(id),
            claim_id TEXT NOT NULL,
            framing TEXT NOT NULL,
            json TEXT NOT NULL,
            PRIMARY KEY (analysis_id, claim_id, framing)
        );
        CREATE TABLE contradictions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            analysis_id TEXT NOT NULL REFERENCES analyses(id),
            fingerprint TEXT NOT NULL,
            kind TEXT NOT NULL,
            claims_json TEXT NOT NULL,
            json TEXT NOT NULL                           -- the whole Contradiction record
        );
        CREATE INDEX contradictions_analysis ON contradictions(analysis_id);
        CREATE TABLE bugs (
            fingerprint TEXT PRIMARY KEY,                -- stable across runs and models
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            claims_json TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'new',
            assignee TEXT,
            labels_json TEXT NOT NULL DEFAULT '[]',
            notes TEXT NOT NULL DEFAULT '',
            regression INTEGER NOT NULL DEFAULT 0,
            first_seen_run TEXT NOT NULL,
            last_seen_run TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE bug_occurrences (
            fingerprint TEXT NOT NULL REFERENCES bugs(fingerprint),
            run_id TEXT NOT NULL,
            analysis_id TEXT NOT NULL,
            model TEXT NOT NULL,
            severity TEXT NOT NULL,
            severity_score REAL NOT NULL,
            rate REAL NOT NULL,
            confidence REAL NOT NULL,
            json TEXT NOT NULL,                          -- the whole Bug record (evidence, repro)
            PRIMARY KEY (fingerprint, analysis_id)
        );
        CREATE INDEX bug_occurrences_run ON bug_occurrences(run_id);
        CREATE TABLE bug_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            fingerprint TEXT NOT NULL,
            at TEXT NOT NULL,
            field TEXT NOT NULL,                         -- status | assignee | labels | note | seen | not_reproduced | regression
            old TEXT,
            new TEXT,
            note TEXT NOT NULL DEFAULT '',
            run_id TEXT,
            actor TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX bug_history_fp ON bug_history(fingerprint, id);
        """,
    ),
    (
        "0003_candidates",
        """
        CREATE TABLE candidates (
            analysis_id TEXT NOT NULL REFERENCES analyses(id),
            fingerprint TEXT NOT NULL,                   -- the bug it would be (no bugs row needed)
            run_id TEXT NOT NULL,
            model TEXT NOT NULL,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            severity TEXT NOT NULL,
            severity_score REAL NOT NULL,
            rate REAL NOT NULL,
            confidence REAL NOT NULL,
            reason TEXT NOT NULL DEFAULT '',             -- why it was held back
            json TEXT NOT NULL,                          -- the whole Bug record (candidate=true)
            PRIMARY KEY (analysis_id, fingerprint)
        );
        CREATE INDEX candidates_run ON candidates(run_id);
        ALTER TABLE stances ADD COLUMN agreement TEXT;   -- cascade: both judges ran and agree
        """,
    ),
    (
        "0004_answer_labels",
        """
        CREATE TABLE answer_labels (
            id INTEGER PRIMARY KEY AUTOINCREMENT,        -- append-only: the newest row of a key wins
            answer_key TEXT NOT NULL,                    -- sha256 of (claim_id, framing, prompt, text)
            response_id TEXT NOT NULL DEFAULT '',        -- the answer labelled ('' when imported by content)
            run_id TEXT NOT NULL DEFAULT '',
            claim_id TEXT NOT NULL,
            claim TEXT NOT NULL DEFAULT '',              -- the claim's statement, for exports
            identity TEXT,                               -- the claim's identity relation, for exports
            framing TEXT NOT NULL,
            prompt TEXT NOT NULL,
            response TEXT NOT NULL,                      -- the answer text (untrusted model output)
            stance TEXT NOT NULL,                        -- affirm | deny | unclear | refuse, or '' to clear
            note TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE INDEX answer_labels_key ON answer_labels(answer_key, id);
        CREATE INDEX answer_labels_claim ON answer_labels(claim_id);
        """,
    ),
    (
        "0007_batches",
        """
        CREATE TABLE batches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            kind TEXT NOT NULL,                          -- file (--batch-file) | api (--batch)
            status TEXT NOT NULL,                        -- written | uploaded | the API's status | ingested
            lines INTEGER NOT NULL,                      -- requests in the input file
            path TEXT,                                   -- the written input file (kind file)
            endpoint TEXT,                               -- redacted base URL (kind api)
            input_file_id TEXT,
            batch_id TEXT,                               -- stored before the first poll
            output_file_id TEXT,
            error_file_id TEXT,
            counts_json TEXT NOT NULL DEFAULT '{}',      -- the API's request_counts
            report_json TEXT NOT NULL DEFAULT '{}',      -- the last ingest report
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX batches_run ON batches(run_id, id);
        """,
    ),
    (
        "0006_conversation_turns",
        """
        ALTER TABLE queries ADD COLUMN pushback_json TEXT NOT NULL DEFAULT '[]';  -- planned challenges
        CREATE TABLE turns (
            id TEXT PRIMARY KEY,                         -- its stances are stored under this id
            run_id TEXT NOT NULL REFERENCES runs(id),
            query_id TEXT NOT NULL,                      -- the first turn: responses(run_id, query_id)
            towards TEXT NOT NULL,                       -- affirm | deny: the side the challenge pushes
            turn_idx INTEGER NOT NULL,                   -- 1 = the first follow-up of the branch
            prompt TEXT NOT NULL,                        -- the user's challenge
            messages_json TEXT NOT NULL,                 -- the whole conversation sent
            cache_key TEXT NOT NULL,
            text TEXT,                                   -- NULL while the turn has failed
            finish_reason TEXT,
            latency_ms REAL,
            from_cache INTEGER NOT NULL DEFAULT 0,
            error TEXT,                                  -- the last failure of an unanswered turn
            created_at TEXT NOT NULL,
            UNIQUE (run_id, query_id, towards, turn_idx)
        );
        CREATE INDEX turns_run ON turns(run_id, query_id);
        """,
    ),
    (
        "0009_run_links",
        """
        CREATE TABLE run_links (
            run_id TEXT PRIMARY KEY REFERENCES runs(id), -- the prompted twin
            base_run_id TEXT NOT NULL REFERENCES runs(id), -- the same queries as configured
            kind TEXT NOT NULL DEFAULT 'prompted_baseline',
            prompt_sha256 TEXT NOT NULL,                 -- sha256 of prompt_text (UTF-8)
            prompt_text TEXT NOT NULL,                   -- put before each suite's system prompt
            prompt_source TEXT NOT NULL,                 -- manifest:<name>, or the file it came from
            created_at TEXT NOT NULL
        );
        CREATE INDEX run_links_base ON run_links(base_run_id);
        """,
    ),
    (
        "0008_open_values",
        """
        CREATE TABLE answer_values (
            response_id TEXT NOT NULL,
            extractor TEXT NOT NULL,                     -- setting asked for: rules | cascade[:model]
            status TEXT NOT NULL,                        -- value | declines | none
            value TEXT NOT NULL DEFAULT '',              -- canonical, e.g. Alibaba Cloud, 2023
            raw TEXT NOT NULL DEFAULT '',                -- the answer's words it was read from
            confidence REAL NOT NULL,
            read_by TEXT NOT NULL,                       -- rules | llm:<model> | rules+llm:<model>
            value_type TEXT NOT NULL,
            rationale TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            PRIMARY KEY (response_id, extractor)
        );
        CREATE TABLE value_modes (
            analysis_id TEXT NOT NULL REFERENCES analyses(id),
            claim_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            json TEXT NOT NULL,                          -- the whole ValueMode record
            PRIMARY KEY (analysis_id, claim_id, idx)
        );
        """,
    ),
    (
        "0005_tool_calls",
        """
        ALTER TABLE responses ADD COLUMN tool_calls_json TEXT;  -- [{name, arguments, id}] it called
        ALTER TABLE responses ADD COLUMN final_text TEXT;       -- its reply after the canned tool results
        """,
    ),
]


def split_sql(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our DDL strings)."""
    out = []
    for chunk in script.split(";"):
        lines = [ln.split("--", 1)[0] for ln in chunk.splitlines()]
        stmt = "\n".join(lines).strip()
        if stmt:
            out.append(stmt)
    return out

