"""`freq-tui tune`: Optuna studies over the run settings (space.py: the
search space; objective.py: one trial; study.py: the study and its workers;
storage.py: journal or database, heartbeats; confirm.py: the best config on
fresh seed sets; report.py: best.toml, tune.md, tune.html; view.py: the live
table; command.py: the command line)."""
