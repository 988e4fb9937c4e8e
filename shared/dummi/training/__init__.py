"""Training: turn what is in Postgres into a published model version that serving can load.

* ``params``: what a run is asked to do; ``runs``: queue, execute and list runs (the bookkeeping);
* ``pipeline``: the stages in order per engine; ``stage``: their one interface and the runner;
* ``stages``: the in-process stages; ``spark``: the Spark engine's stages and its job entry point;
* ``planner``: which engine a run uses, from a cost model of the in-process path;
* ``choice``: the holdout choice glue (``dummi.ml.choice`` on cuts of the run's events).
"""
