"""Command line of the pure core: ``python -m assessments {score,settle,distribute} ...``."""

from __future__ import annotations

import sys

USAGE = """用法: python -m assessments <命令> [参数]
命令:
  score --index FILE --metrics FILE.json   按考核指标文件计分
  settle FILE.json                         按 P×S 在结算池内分配资金
  distribute FILE.json                     团队内二次分配 (k×y×c×a，扣分进部门基金；--help 列出字段)
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "score":
        from assessments.scoring_cli import main as score_main

        return score_main(rest)
    if command in {"settle", "distribute"}:
        from assessments.settlement_cli import main as settlement_main

        return settlement_main([command, *rest])
    print(f"未知命令: {command}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
