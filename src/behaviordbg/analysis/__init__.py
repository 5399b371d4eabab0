"""The analysis stages: pure functions over the records of behaviordbg.types, with no I/O.

- cluster.py: answer modes per claim (TF-IDF or given vectors);
- graph.py: stance distributions, the implication graph of the rules, the five contradiction kinds;
- evidence.py: whether a contradiction rests on solid verdicts (a bug) or not (a candidate);
- verify.py: how a second judge's reading confirms or demotes a contradiction;
- bugs.py: contradictions -> bugs with a stable fingerprint, a title, a severity and a repro;
- stats.py: the Wilson interval.

behaviordbg.pipeline feeds them a run's answers and stores what they return.
"""
