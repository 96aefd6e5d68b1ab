"""mockyard's benchmark harness (issue 7): `make bench`, or `python -m bench --help`.

`run` orchestrates; `workload` builds the request lists and the pay state from the workspace's
records; `servers` starts and stops the servers under test; `loadgen` runs wrk with
`wrk/walk.lua`; `report` holds the targets and prints the table; `baselines` are the apps mockyard
is compared with.
"""
