"""Corrections after lock (锁定后更正): differences of a locked settlement carried into a later one."""
