"""`streamlit run dashboards/app.py [-- --db PATH]` from a source checkout: the same dashboard as
`behaviordbg dashboard`, whose app lives in the package (src/behaviordbg/dashboard/app.py). This
file only runs that script, on every rerun, as Streamlit would."""

import runpy

from behaviordbg.dashboard import APP

runpy.run_path(str(APP), run_name="__main__")
