"""Sources of the team split: attendance, point tables, deductions, the fund, leader rules."""
