"""``flask scheduler run`` (the one scheduler process) and ``flask jobs run NAME --period ...``."""

from flask.cli import AppGroup

scheduler_cli = AppGroup("scheduler", help="定时任务调度进程")
jobs_cli = AppGroup("jobs", help="手动运行定时任务")
