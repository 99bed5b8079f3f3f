"""The demo city (演示数据): 许昌市 with two settlement pools, six counties and a year of services.

Everything is drawn from one ``random.Random(seed)`` and dated relative to ``anchor`` (never the
wall clock), so the same (seed, anchor) gives the same rows. Rows are built as plain dicts that
carry their own primary keys and are inserted in a few bulk statements, in one transaction that
the caller commits.

Public-health services (基本公共卫生) reach every resident, signed or not, inside the windows of
``assessments.care_schedule``; consultations, home visits and referrals happen only under a
contract. Teams differ in a drawn capability, so every indicator spreads across them. The quarterly
verification draws use ``assessments.sampling`` with their recorded seed, so they can be replayed.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
import time as time_module
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from operator import itemgetter
from typing import Any

from sqlalchemy import func, insert, select, text

from assessments import sampling
from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember, ContractPackage, ServicePackage
from fdoctor.core import citizen_id as cid
from fdoctor.core.roles import Role
from fdoctor.extensions import db
from fdoctor.households.models import Household, Pregnancy, Resident
from fdoctor.org.models import POPULATION_CATEGORIES, GridCell, OrgUnit, PopulationFigure
from fdoctor.services.models import SERVICE_TYPES, ServiceRecord
from fdoctor.surveys.models import (
    Complaint,
    SurveyRecordCheck,
    SurveyResponse,
    VerificationSample,
    VerificationSampleItem,
)

Row = dict[str, Any]

DEMO_PASSWORD = "Demo2026"
# One memorable login per role; all of them in 魏都区's first institution and team where scoped.
DEMO_LOGINS: list[tuple[str, str]] = [
    ("doctor", Role.DOCTOR.label),
    ("leader", Role.TEAM_LEADER.label),
    ("centre", Role.CENTRE_ADMIN.label),
    ("county", Role.COUNTY_AUDITOR.label),
    ("city", Role.CITY_ADMIN.label),
    ("finance", Role.FINANCE.label),
    ("admin", Role.ADMIN.label),
]


@dataclass(frozen=True)
class Scale:
    """How big a generated city is. Ranges are inclusive and drawn per parent unit.

    ``demo`` and ``small`` build the six-county city in memory and insert it at once; ``county``
    and ``city`` are for benchmarks and stream institution by institution (COPY on PostgreSQL),
    so memory stays flat whatever the size.
    """

    label: str
    households: tuple[int, int]  # per team
    counties: int = 6
    institutions: tuple[int, int] = (2, 3)  # per county
    stations: tuple[int, int] = (2, 3)  # per institution
    teams: tuple[int, int] = (2, 3)  # per institution
    # Share of the remaining refusals that sign anyway (0 keeps the demo's signing rates).
    sign_boost: float = 0.0
    volume: float = 1.0  # multiplier on consultations and home visits
    streaming: bool = False


SCALES: dict[str, Scale] = {
    "demo": Scale("演示：6个县区，约3000户", (60, 100)),
    "small": Scale("测试：每团队十几户", (10, 16)),
    # A tenth of the city: two counties (one per settlement pool), ~200 teams, ~60,000 households.
    "county": Scale(
        "县级规模：2个县区，约200个团队、6万户",
        (240, 360),
        counties=2,
        institutions=(7, 8),
        stations=(15, 22),
        teams=(11, 16),
        sign_boost=0.85,
        volume=6.5,
        streaming=True,
    ),
    # The seed documents' city: 9 counties, ~150 institutions, ~2,800 stations, ~2,000 teams,
    # ~600,000 households, ~1.5 million signed residents, ~12 million service records a year.
    "city": Scale(
        "市级规模：9个县区，约2000个团队、60万户",
        (240, 360),
        counties=9,
        institutions=(14, 19),
        stations=(15, 22),
        teams=(11, 16),
        sign_boost=0.85,
        volume=6.5,
        streaming=True,
    ),
}

# Insert order respects every foreign key (SQLite enforces them row by row).
TABLE_LABELS: dict[str, str] = {
    "org_unit": "机构",
    "user_account": "用户",
    "service_package": "服务包",
    "grid_cell": "网格",
    "household": "家庭户",
    "resident": "居民",
    "pregnancy": "孕产记录",
    "population_figure": "人口数",
    "contract": "签约协议",
    "contract_member": "签约成员",
    "contract_package": "签约服务包",
    "service_record": "服务记录",
    "verification_sample": "抽查批次",
    "verification_sample_item": "抽查对象",
    "survey_response": "调查问卷",
    "survey_record_check": "服务核实",
    "complaint": "投诉",
}
_MODELS: dict[str, Any] = {
    "org_unit": OrgUnit,
    "user_account": User,
    "service_package": ServicePackage,
    "grid_cell": GridCell,
    "household": Household,
    "resident": Resident,
    "pregnancy": Pregnancy,
    "population_figure": PopulationFigure,
    "contract": Contract,
    "contract_member": ContractMember,
    "contract_package": ContractPackage,
    "service_record": ServiceRecord,
    "verification_sample": VerificationSample,
    "verification_sample_item": VerificationSampleItem,
    "survey_response": SurveyResponse,
    "survey_record_check": SurveyRecordCheck,
    "complaint": Complaint,
}


class DemoError(RuntimeError):
    """The demo city cannot be loaded; the message is for the user, in Chinese."""


@dataclass(frozen=True)
class DemoSummary:
    """What ``load_demo`` inserted: rows per table and the demo logins."""

    seed: int
    anchor: date
    scale: str
    counts: dict[str, int]
    logins: list[tuple[str, str, str]]  # username, role label, org unit name
    password: str = DEMO_PASSWORD

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def load_demo(
    seed: int,
    anchor: date,
    scale: str = "demo",
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Build the demo city into an empty database and flush it; the caller commits.

    ``progress`` hears a line (in Chinese) after each county of a streamed scale."""
    if scale not in SCALES:
        raise DemoError(f"未知的演示数据规模：{scale}（可选：{'、'.join(SCALES)}）")
    _refuse_non_empty()
    builder = _Builder(seed, anchor, scale)
    writer = _Writer()
    if SCALES[scale].streaming:
        writer.defer_constraints()
        started = time_module.perf_counter()

        def county_done(name: str) -> None:
            if progress:
                elapsed = time_module.perf_counter() - started
                progress(
                    f"  {name}：累计 {writer.counts['resident']:,} 名居民、"
                    f"{writer.counts['service_record']:,} 条服务记录，{elapsed:.0f} 秒"
                )

        builder.build_streaming(lambda: writer.write(builder.rows), county_done)
        writer.restore_constraints()
    else:
        builder.build()
        writer.write(builder.rows)
    _reset_sequences()
    db.session.flush()
    counts = {table: writer.counts[table] for table in TABLE_LABELS}
    # Bulk rows bypass the per-row audit listener: the trail records one entry per table.
    from fdoctor.audit.services import AUDITED_TABLES, record_bulk_load

    for table, count in counts.items():
        if table in AUDITED_TABLES:
            record_bulk_load(table, count, f"演示数据 seed={seed} anchor={anchor.isoformat()}")
    if db.session.get_bind().dialect.name == "postgresql":
        # Fresh tables have no statistics; without them the planner picks nested loops.
        db.session.execute(text("ANALYZE"))
    return DemoSummary(seed, anchor, scale, counts, builder.login_rows())


class _Writer:
    """Writes the builder's rows table by table (in foreign-key order) and empties them.

    PostgreSQL gets COPY on the session's own connection, so everything stays in the caller's
    transaction; SQLite gets multi-row Core inserts (the ORM's bulk path costs twice as long for
    the same rows, and the rows already carry their keys and every column).
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.copy = db.session.get_bind().dialect.name == "postgresql"
        self.deferred: list[str] = []

    def defer_constraints(self) -> None:
        """On PostgreSQL, drop the loaded tables' foreign keys, unique constraints and secondary
        indexes (not primary keys) for the load and rebuild them afterwards, as a restore does:
        one validating pass per constraint instead of a dozen index probes per copied row.
        It is all in the caller's transaction, so a failed load leaves the schema as it was."""
        if not self.copy:
            return
        tables = list(TABLE_LABELS)
        connection = db.session.connection()
        constraints = connection.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
                "FROM pg_constraint WHERE contype IN ('f', 'u') "
                "AND conrelid::regclass::text = ANY(:tables) ORDER BY contype, conname"
            ),
            {"tables": tables},
        ).all()
        indexes = connection.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
            ),
            {"tables": tables},
        ).all()
        # Foreign keys first (they may lean on a unique constraint), then uniques, then indexes.
        for table, name, _, _ in constraints:
            connection.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
        # Rebuilt in the opposite order: indexes, unique constraints, then foreign keys.
        self.deferred = [definition for _, definition in indexes]
        for kind in ("u", "f"):
            self.deferred += [
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'
                for table, name, definition, contype in constraints
                if contype == kind
            ]

    def restore_constraints(self) -> None:
        if not self.deferred:
            return
        connection = db.session.connection()
        connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for statement in self.deferred:
            connection.execute(text(statement))
        self.deferred = []

    def write(self, rows: dict[str, list[Row]]) -> None:
        for table in TABLE_LABELS:
            chunk = rows[table]
            if not chunk:
                continue
            if self.copy:
                self._copy(table, chunk)
            else:
                for start in range(0, len(chunk), 20_000):
                    db.session.execute(
                        insert(_MODELS[table].__table__), chunk[start : start + 20_000]
                    )
            self.counts[table] += len(chunk)
            chunk.clear()

    @staticmethod
    def _copy(table: str, chunk: list[Row]) -> None:
        columns = list(chunk[0])
        known = set(_MODELS[table].__table__.columns.keys())
        if not set(columns) <= known:
            raise AssertionError(f"{table}: unknown columns {set(columns) - known}")
        values = itemgetter(*columns)
        names = ", ".join(f'"{c}"' for c in columns)
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in chunk:
                copy.write_row(values(row))


def _refuse_non_empty() -> None:
    units = db.session.scalar(select(func.count(OrgUnit.id))) or 0
    if units:
        raise DemoError(f"数据库中已有 {units} 个机构，演示数据只能载入空数据库")
    users = db.session.scalar(select(func.count(User.id))) or 0
    if users:
        raise DemoError(f"数据库中已有 {users} 个用户，演示数据只能载入空数据库")


def _reset_sequences() -> None:
    """Primary keys were assigned here, so PostgreSQL sequences must be moved past them."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in TABLE_LABELS:
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT COALESCE(MAX(id), 0) + 1 FROM "{table}"), false)'
            )
        )


# --- names and places -------------------------------------------------------------------------


@dataclass(frozen=True)
class _CountySpec:
    region: str
    name: str
    subtype: str
    pool: int  # 0 = 市区, 1 = 县市
    urban: bool
    places: tuple[str, ...]  # streets (街道) or towns (镇), one per institution
    hospitals: tuple[str, ...]  # where referrals go up to


# fmt: off
_COUNTIES = (
    _CountySpec("411002", "魏都区", "district", 0, True,
                ("西大街街道", "南关街道", "五一路街道", "高桥营街道"),
                ("许昌市中心医院", "许昌市人民医院", "许昌市中医院")),
    _CountySpec("411003", "建安区", "district", 0, True,
                ("新元街道", "尚集街道", "长村张街道"),
                ("建安区人民医院", "许昌市中心医院", "许昌市妇幼保健院")),
    _CountySpec("411071", "东城区", "district", 0, True,
                ("龙湖街道", "祖师街道", "半截河街道"),
                ("许昌市人民医院", "许昌市中心医院")),
    _CountySpec("411081", "禹州市", "county_city", 1, False,
                ("神垕镇", "鸿畅镇", "顺店镇", "方山镇"),
                ("禹州市人民医院", "禹州市中医院", "许昌市中心医院")),
    _CountySpec("411082", "长葛市", "county_city", 1, False,
                ("大周镇", "后河镇", "石固镇", "坡胡镇"),
                ("长葛市人民医院", "长葛市中医院", "许昌市中心医院")),
    _CountySpec("411024", "鄢陵县", "county", 1, False,
                ("柏梁镇", "陈化店镇", "马栏镇", "望田镇"),
                ("鄢陵县人民医院", "鄢陵县中医院", "许昌市人民医院")),
)
# The city scale adds the remaining county and the two functional zones the city pays as
# counties (their codes here are the city's own, not national division codes).
_MORE_COUNTIES = (
    _CountySpec("411025", "襄城县", "county", 1, False,
                ("城关镇", "颍桥回族镇", "麦岭镇", "库庄镇"),
                ("襄城县人民医院", "襄城县中医院", "许昌市中心医院")),
    _CountySpec("411073", "经济技术开发区", "district", 0, True,
                ("长村张街道", "魏武路街道"),
                ("许昌市中心医院", "许昌市人民医院")),
    _CountySpec("411074", "城乡一体化示范区", "district", 0, True,
                ("祖师街道", "许由街道"),
                ("许昌市人民医院", "许昌市中医院")),
)
# fmt: on


def _county_specs(count: int) -> tuple[_CountySpec, ...]:
    """The demo's six counties, one per pool for the county scale, nine for the city scale."""
    if count == 2:
        return (_COUNTIES[0], _COUNTIES[3])
    return (_COUNTIES + _MORE_COUNTIES)[:count]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶贺顾毛郝"
)
# Henan's commonest surnames first; the weights fall off so that 王/李/张 dominate as they do.
_SURNAME_WEIGHTS = [max(1.0, 12.0 - i * 0.6) for i in range(len(_SURNAMES))]
_GIVEN = {
    ("M", "old"): _words(
        "建国 国强 国庆 志强 德明 长青 保国 福生 文华 金山 永福 振华 玉山 铁柱 满仓 新民 卫东 "
        "红军 学文 连生 树林 春生 占峰 富贵 老三 拴柱 广田 明亮 有才 金锁"
    ),
    ("F", "old"): _words(
        "秀英 桂兰 玉兰 淑珍 桂英 凤英 秀兰 玉珍 翠花 素芳 兰英 美英 淑华 秀珍 春梅 金凤 爱华 "
        "玉梅 桂芳 秀云 爱莲 改云 月娥 素琴 巧云"
    ),
    ("M", "mid"): _words(
        "伟 强 磊 军 勇 杰 涛 斌 超 明 刚 平 辉 鹏 海峰 建华 晓东 志刚 俊杰 文斌 宏伟 振宇 "
        "红旗 永强 向阳 国栋 建伟 利军 少华 晓峰"
    ),
    ("F", "mid"): _words(
        "丽 娟 静 敏 艳 霞 芳 燕 玲 红 丽娟 晓燕 海燕 春燕 雪梅 慧 婷 丹 艳红 丽萍 彩霞 "
        "晓丽 红霞 秀丽 俊霞 亚楠 利娜 淑娟"
    ),
    ("M", "young"): _words(
        "浩然 子轩 宇航 梓豪 俊熙 一鸣 博文 皓轩 子墨 天佑 家豪 铭泽 思远 睿 航 宇轩 "
        "嘉懿 奕辰 沐阳 梓睿 浩宇 晨阳 子豪 明轩"
    ),
    ("F", "young"): _words(
        "子涵 欣怡 梓涵 一诺 诗涵 雨桐 可馨 思琪 佳怡 语嫣 若汐 梦瑶 欣然 紫萱 雨萱 "
        "佳琪 梓萱 依诺 芊芊 沐晴 安琪 悦彤"
    ),
}
_ROADS = _words(
    "文化路 建设路 劳动路 八一路 七一路 健康路 光明路 学院路 魏文路 许继大道 新兴路 天宝路 南海街 "
    "毓秀路 永兴路 延安路 春秋路 颍昌大道 莲城大道 魏武大道 灞陵路 竹林路 鹿鸣湖 芙蓉湖 宏腾路 "
    "东城路 长村路 兴业路 昌盛路 学府街"
)
_ESTATES = _words(
    "阳光花园 锦绣华庭 和谐家园 幸福里 金色家园 翡翠城 世纪花园 帝景苑 福园 龙湖湾 学府佳苑 银河小区 "
    "水岸名居 盛世华城 森林半岛 明珠花园 桃园小区 紫荆苑 丽景湾 御景园 东方家园 天润城 清华园 怡和苑 "
    "春晖小区 碧水蓝天 新天地 文昌苑 魏都花园 鑫苑名家 长安小区 许继小区 电力小区 烟厂家属院 教师新村 "
    "农行家属院 交通局家属院 棉纺厂家属院 粮食局家属院 公园壹号 滨河花园 金水湾 书香苑 瑞园 "
    "凤凰城 阳光水岸 佳和园 泰和苑"
)
_VILLAGE_SUFFIXES = ("庄", "营", "寨", "湾", "楼", "岗", "集", "桥", "店", "坡", "庙", "屯")
_VILLAGE_PREFIXES = ("", "", "", "大", "小", "前", "后", "东", "西", "南", "北")
_CN_NUM = "一二三四五六七八九十"

# fmt: off
_PACKAGES = (
    # code, name, kind, fee per person per year (fen), description
    ("BASIC", "基础包", "basic", 0, "基本医疗和基本公共卫生服务、健康咨询、预约转诊，免费"),
    ("ELDERLY", "老年人个性化包", "personalised", 8000, "65岁及以上老年人：年度体检加项、上门随访、用药指导"),
    ("CHRONIC", "慢病个性化包", "personalised", 12000, "高血压、糖尿病患者：定期随访、指标监测、长处方"),
    ("CHILD", "儿童个性化包", "personalised", 6000, "0-6岁儿童：生长发育评估、营养与喂养指导"),
    ("MATERNAL", "孕产妇个性化包", "personalised", 10000, "孕产妇：孕期随访、产后访视、母乳喂养指导"),
)
# Child health checks (months of age) and the national immunisation schedule.
_CHILD_CHECKS = (
    (1, "新生儿满月健康管理"), (3, "3月龄健康检查"), (6, "6月龄健康检查"), (8, "8月龄健康检查"),
    (12, "1岁健康检查"), (18, "18月龄健康检查"), (24, "2岁健康检查"), (30, "30月龄健康检查"),
    (36, "3岁健康检查"), (48, "4岁健康检查"), (60, "5岁健康检查"), (72, "6岁健康检查"),
)
_VACCINES = (
    (0, "乙肝疫苗第1剂、卡介苗"), (1, "乙肝疫苗第2剂"), (2, "脊灰灭活疫苗第1剂"),
    (3, "脊灰灭活疫苗第2剂、百白破疫苗第1剂"), (4, "脊灰减毒活疫苗第3剂、百白破疫苗第2剂"),
    (5, "百白破疫苗第3剂"), (6, "乙肝疫苗第3剂、A群流脑多糖疫苗第1剂"),
    (8, "麻腮风疫苗第1剂、乙脑减毒活疫苗第1剂"), (9, "A群流脑多糖疫苗第2剂"),
    (18, "百白破疫苗第4剂、麻腮风疫苗第2剂、甲肝减毒活疫苗"), (24, "乙脑减毒活疫苗第2剂"),
    (36, "A群C群流脑多糖疫苗第1剂"), (48, "脊灰减毒活疫苗第4剂"),
    (72, "白破疫苗、A群C群流脑多糖疫苗第2剂"),
)
# (first day, last day, label, counted from delivery rather than from the last menstrual
# period): days chosen inside the windows of assessments.care_schedule.
_MATERNAL_VISITS = (
    (56, 88, "孕早期健康管理（建册）", False), (114, 144, "孕中期随访（16-20周）", False),
    (149, 172, "孕中期随访（21-24周）", False), (198, 254, "孕晚期随访（28-36周）", False),
    (260, 282, "孕晚期随访（37-40周）", False), (3, 7, "产后访视", True),
    (42, 54, "产后42天健康检查", True),
)
_EDUCATION_TOPICS = (
    "高血压防治知识讲座", "糖尿病饮食与运动指导", "老年人防跌倒知识讲座", "儿童预防接种知识宣传",
    "合理膳食 健康生活", "春季传染病预防", "冬季心脑血管疾病预防", "中医药健康养生讲座",
    "控烟限酒 健康生活", "孕产期保健知识讲座", "心理健康讲座", "肺结核防治宣传",
    "家庭医生签约服务政策宣传", "急救知识培训（心肺复苏）", "夏季防暑降温与食品安全",
    "慢阻肺早期筛查宣传",
)
_CONSULT_NOTES = (
    "感冒发热，对症处理", "头晕，测血压并随诊", "咳嗽咳痰，开具止咳药", "腰腿痛，理疗建议",
    "血压复测，调整用药", "血糖复测，饮食指导", "胃部不适，用药指导", "失眠，健康指导",
    "皮肤瘙痒，外用药", "健康咨询",
)
_HOME_VISIT_NOTES = ("上门测血压、用药指导", "上门康复指导", "上门健康评估")
_REFERRAL_UP_NOTES = (
    "血压控制不佳，转上级医院调整方案", "胸闷待查", "血糖控制不佳", "外伤待查",
    "疑似脑卒中，紧急转诊",
)
_REFERRAL_DOWN_NOTES = (
    "术后康复，转回社区管理", "病情稳定，转回基层继续治疗", "慢病稳定期，转回家庭医生管理",
)
_MENTAL_NOTES = ("病情稳定", "病情基本稳定", "病情不稳定，建议专科复诊")
_SURVEY_COMMENTS = (
    "医生很负责", "希望多上门服务", "随访很及时", "联系医生不太方便", "希望增加体检项目", "服务态度好",
)
_PHONE_PREFIXES = _words("135 136 137 138 139 150 151 155 158 159 176 177 183 185 186 187 188 199")
# fmt: on
_COMPLAINTS = (
    "签约后家庭医生从未上门随访",
    "随访记录与实际不符，本人未接受过血压测量",
    "签约医生服务态度差，说话不耐烦",
    "签约时承诺的免费体检没有落实",
    "预约的上门服务没有按时到达",
    "电话联系不上签约医生",
    "签约时未说明个性化服务包收费",
)
_COMPLAINT_CHANNELS = ("12345市民热线", "电话投诉", "现场投诉", "微信公众号", "院长信箱")
_TERMINATION_REASONS = ("居民本人申请解约", "长期外出务工，无法履约", "对服务不满意，申请解约")
_SALT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


# --- the builder's own view of the city ---------------------------------------------------------


@dataclass(slots=True)
class _Traits:
    """How well a team works; drawn once per team so that teams score differently."""

    sign_key: float
    sign_other: float
    followup: float
    control: float
    checkup: float
    volume: float
    late: float
    education_skip: float
    referrals: float  # per month
    receipt: float
    knows: float
    quality: float
    bad: float  # sampled records the resident says never happened


@dataclass(slots=True)
class _Place:
    """A county, institution or station as the builder needs it."""

    id: int
    code: str
    name: str
    short: str
    county: _CountySpec
    county_id: int
    institution_id: int | None = None
    home_name: str = ""  # a station's village or community, reused for its grid
    admin_id: int = 0  # the centre_admin of an institution


@dataclass(slots=True)
class _Cell:
    id: int
    station_id: int | None
    address: str  # prefix; a household adds its own number
    registered_extra: float  # 常住 but not (yet) in the system, as a share of residents
    rural: bool
    group_count: int = 0


@dataclass(slots=True)
class _Team:
    id: int
    code: str
    name: str
    county: _CountySpec
    county_id: int
    institution: _Place
    station_id: int | None
    rural: bool
    traits: _Traits
    leader_id: int = 0
    member_ids: list[int] = field(default_factory=list)  # leader first
    responsible_ids: list[int] = field(default_factory=list)  # who may hold households
    leaves: list[_Cell] = field(default_factory=list)
    homes: list[_Home] = field(default_factory=list)


@dataclass(slots=True)
class _Person:
    id: int
    name: str
    sex: str
    born: date
    relation: str
    tags: set[str]
    phone: str | None
    pregnancy: tuple[date, date | None] | None = None
    tb_start: date | None = None
    controlled_bp: bool = True
    controlled_glucose: bool = True
    spans: list[tuple[date, date, int]] = field(default_factory=list)  # (from, to, contract id)


@dataclass(slots=True)
class _Home:
    id: int
    team: _Team
    cell: _Cell
    address: str
    doctor_id: int
    people: list[_Person]
    must_sign: bool = False


@dataclass(slots=True)
class _Sample:
    """One quarter's verification draw of one institution."""

    id: int
    institution: _Place
    period: str
    q_start: date
    q_end: date
    drawn_on: date


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _add_years(day: date, years: int) -> date:
    return _add_months(day, 12 * years)


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _quarter_label(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


class _Builder:
    """Draws the whole city into ``rows`` (table name → list of row dicts with ids)."""

    def __init__(self, seed: int, anchor: date, scale: str) -> None:
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.scale = scale
        self.spec = SCALES[scale]
        # Activity ends the day before the anchor so that nothing is dated later than "now".
        self.last_day = anchor - timedelta(days=1)
        self.window_start = anchor - timedelta(days=365)
        # Nothing is entered later than the morning of the anchor day.
        self.entry_limit = datetime.combine(anchor, time(8, 0))
        self.stamp = datetime.combine(anchor - timedelta(days=730), time(9, 0))
        self.rows: dict[str, list[Row]] = {table: [] for table in TABLE_LABELS}
        self._ids: dict[str, int] = defaultdict(int)
        self._used_ids: set[str] = set()
        self._used_names: set[str] = set()
        self.teams: list[_Team] = []
        self.institutions: list[_Place] = []
        self.counties: list[_Place] = []
        self.stations: list[_Place] = []
        self.users_by_name: dict[str, Row] = {}
        self.packages: dict[str, Row] = {}
        self.records_by_resident: dict[int, list[Row]] = defaultdict(list)
        self.team_stations: dict[int, list[_Place]] = {}
        self.contract_numbers: dict[str, int] = defaultdict(int)
        self.password_hash = self._password_hash()
        self.unit_names: dict[int, str] = {}
        self._county_of: dict[int, int] = {}

    # --- plumbing ---

    def next_id(self, table: str) -> int:
        self._ids[table] += 1
        return self._ids[table]

    def add(self, table: str, row: Row) -> Row:
        self.rows[table].append(row)
        return row

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def day_between(self, lo: date, hi: date) -> date:
        return lo + timedelta(days=self.rng.randint(0, (hi - lo).days))

    def at(self, day: date, lo_hour: int = 8, hi_hour: int = 17) -> datetime:
        minutes = self.rng.randint(lo_hour * 60, hi_hour * 60 - 1)
        return datetime.combine(day, time(minutes // 60, minutes % 60))

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def phone(self) -> str:
        return self.rng.choice(_PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def surname(self) -> str:
        return self.rng.choices(_SURNAMES, weights=_SURNAME_WEIGHTS)[0]

    def given(self, sex: str, born_year: int) -> str:
        era = "old" if born_year < 1966 else "mid" if born_year < 1996 else "young"
        return self.rng.choice(_GIVEN[(sex, era)])

    def person_name(self, sex: str, born_year: int, surname: str | None = None) -> str:
        return (surname or self.surname()) + self.given(sex, born_year)

    def unique_name(self, make: Callable[[], str]) -> str:
        """Draw names from ``make()`` until one is new (villages, estates, roads)."""
        for attempt in range(50):
            name = make()
            if attempt > 20:
                name += _CN_NUM[attempt % 10] + "区"
            if name not in self._used_names:
                self._used_names.add(name)
                return name
        # Only the benchmark scales get here: number the name (阳光花园二区, 三区, …).
        base, n = make(), 2
        while f"{base}{n}区" in self._used_names:
            n += 1
        self._used_names.add(f"{base}{n}区")
        return f"{base}{n}区"

    def place_name(self, urban: bool) -> str:
        """A further street (街道) or town (镇/乡) for counties with more institutions."""
        if urban:
            return self.unique_name(lambda: self.rng.choice(_ROADS).removesuffix("路") + "街道")
        return self.unique_name(
            lambda: (
                self.rng.choice(_VILLAGE_PREFIXES[3:])
                + self.rng.choice(_SURNAMES[:40])
                + self.rng.choice(_VILLAGE_SUFFIXES)
                + self.rng.choice(("镇", "镇", "乡"))
            )
        )

    def village_name(self) -> str:
        return self.unique_name(
            lambda: (
                self.rng.choice(_VILLAGE_PREFIXES)
                + self.rng.choice(_SURNAMES[:40])
                + self.rng.choice(_VILLAGE_SUFFIXES)
                + "村"
            )
        )

    def _password_hash(self) -> str:
        """One werkzeug-format scrypt hash with a seeded salt: deterministic, and hashed once."""
        salt = "".join(self.rng.choice(_SALT_CHARS) for _ in range(16))
        n, r, p = 2**15, 8, 1
        digest = hashlib.scrypt(
            DEMO_PASSWORD.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
        ).hex()
        return f"scrypt:{n}:{r}:{p}${salt}${digest}"

    # --- the whole city ---

    def build(self) -> None:
        self.build_org()
        self.build_packages()
        for team in self.teams:
            self.build_grid(team)
            self.build_homes(team)
        self.ensure_key_populations()
        self.write_homes()
        self.build_figures()
        for team in self.teams:
            for home in team.homes:
                self.build_contracts(home)
        self.finish_contracts()
        for team in self.teams:
            self.build_services(team)
        self.build_surveys()
        self.build_complaints()

    def build_streaming(
        self, flush: Callable[[], None], county_done: Callable[[str], None] | None = None
    ) -> None:
        """The same city built one institution at a time: after each, ``flush`` writes
        ``rows`` out and empties them, and the institution's people are dropped."""
        self.build_org()
        self.build_packages()
        flush()
        years = self.figure_years()
        for county in self.counties:
            # Citizen ids carry the county's region code, and names need only be unique within
            # a county: both sets stay as small as one county.
            self._used_ids.clear()
            self._used_names.clear()
            county_counts: dict[tuple[int, str], int] = defaultdict(int)
            for institution in [i for i in self.institutions if i.county_id == county.id]:
                teams = [t for t in self.teams if t.institution is institution]
                for team in teams:
                    self.build_grid(team)
                    self.build_homes(team)
                self.ensure_key_populations(teams, [institution])
                self.write_homes(teams)
                stations = [s.id for s in self.stations if s.institution_id == institution.id]
                units = [t.id for t in teams] + stations + [institution.id]
                for year, day in years:
                    counts = self.figure_counts(teams, day)
                    self.add_figures(year, counts, units)
                    for category in POPULATION_CATEGORIES:
                        county_counts[(year, category)] += counts[(county.id, category)]
                for team in teams:
                    for home in team.homes:
                        self.build_contracts(home)
                self.finish_contracts(teams)
                for team in teams:
                    self.build_services(team)
                self.build_surveys([institution], teams)
                flush()
                self.records_by_resident.clear()
                for team in teams:
                    team.homes.clear()
                    team.leaves.clear()
            for year, _ in years:
                counts = {(county.id, c): county_counts[(year, c)] for c in POPULATION_CATEGORIES}
                self.add_figures(year, counts, [county.id])
            if county_done:
                county_done(county.name)
        self.build_complaints()
        flush()

    def login_rows(self) -> list[tuple[str, str, str]]:
        unit_names = self.unit_names
        result = []
        for username, label in DEMO_LOGINS:
            user = self.users_by_name[username]
            unit = unit_names.get(user["org_unit_id"], "（全市，不限机构）")
            result.append((username, label, unit))
        return result

    # --- organisation tree and users ---

    def unit(
        self,
        code: str,
        name: str,
        kind: str,
        subtype: str | None,
        parent: Row | None,
        county_id: int | None = None,
        institution_id: int | None = None,
        region_code: str | None = None,
    ) -> Row:
        unit_id = self.next_id("org_unit")
        path = f"{parent['path'] if parent else '/'}{unit_id}/"
        self.unit_names[unit_id] = name
        if kind == "county":
            county_id = unit_id
        if kind == "institution":
            institution_id = unit_id
        return self.add(
            "org_unit",
            {
                "id": unit_id,
                "code": code,
                "name": name,
                "kind": kind,
                "subtype": subtype,
                "parent_id": parent["id"] if parent else None,
                "path": path,
                "county_id": county_id,
                "institution_id": institution_id,
                "region_code": region_code,
                "active": True,
                "created_at": self.stamp,
                "updated_at": self.stamp,
            },
        )

    def user(
        self,
        username: str,
        role: Role,
        unit_id: int | None,
        post: str | None = None,
        name: str | None = None,
        on_probation: bool = False,
    ) -> int:
        user_id = self.next_id("user_account")
        born_year = self.anchor.year - self.rng.randint(26, 55)
        sex = self.rng.choice("MF")
        row = self.add(
            "user_account",
            {
                "id": user_id,
                "username": username,
                "display_name": name or self.person_name(sex, born_year),
                "password_hash": self.password_hash,
                "role": role.value,
                "org_unit_id": unit_id,
                "phone": self.phone(),
                "post": post,
                "on_probation": on_probation,
                "active": True,
                "failed_logins": 0,
                "locked_until": None,
                "last_login_at": None,
                "created_at": self.stamp,
                "updated_at": self.stamp,
            },
        )
        self.users_by_name[username] = row
        return user_id

    def traits(self, rural: bool) -> _Traits:
        rng = self.rng
        z = rng.random()  # the team's overall capability; each trait adds its own noise

        def jitter(value: float, lo: float, hi: float) -> float:
            return round(_clamp(value + rng.uniform(-0.05, 0.05), lo, hi), 4)

        return _Traits(
            sign_key=jitter(0.56 + 0.26 * z + (0.04 if rural else 0.0), 0.5, 0.9),
            sign_other=jitter(0.07 + 0.10 * z, 0.04, 0.2),
            followup=jitter(0.80 + 0.18 * z, 0.72, 0.995),
            control=jitter(0.45 + 0.35 * z, 0.35, 0.85),
            checkup=jitter(0.58 + 0.38 * z, 0.5, 0.97),
            volume=jitter(0.6 + 0.9 * z, 0.5, 1.6),
            late=jitter(0.10 - 0.07 * z + (0.01 if rural else 0.0), 0.03, 0.10),
            education_skip=jitter(0.22 - 0.22 * z, 0.0, 0.3),
            referrals=jitter(0.8 + 1.8 * z, 0.6, 2.8),
            receipt=jitter(0.72 + 0.26 * z, 0.65, 1.0),
            knows=jitter(0.85 + 0.10 * z, 0.84, 0.96),
            quality=jitter(z, 0.0, 1.0),
            bad=jitter(0.025 * (1 - z), 0.0, 0.03),
        )

    def build_org(self) -> None:
        rng = self.rng
        city = self.unit("4110", "许昌市", "city", None, None)
        pools = [
            self.unit("4110-P1", "市区", "pool", None, city),
            self.unit("4110-P2", "县市", "pool", None, city),
        ]
        for spec in _county_specs(self.spec.counties):
            county = self.unit(
                spec.region,
                spec.name,
                "county",
                spec.subtype,
                pools[spec.pool],
                region_code=spec.region,
            )
            county_place = _Place(
                county["id"], spec.region, spec.name, spec.name, spec, county["id"]
            )
            self.counties.append(county_place)
            places = list(spec.places)
            n_institutions = rng.randint(*self.spec.institutions)
            for i in range(n_institutions):
                place = places[i] if i < len(places) else self.place_name(spec.urban)
                inst_code = f"{spec.region}-{i + 1:02d}"
                if spec.urban:
                    inst_name = f"{spec.name}{place}社区卫生服务中心"
                    subtype, short = "community_centre", place.removesuffix("街道")
                else:
                    prefix = "中心" if i == 0 else ""
                    inst_name = f"{spec.name}{place}{prefix}卫生院"
                    subtype, short = "township_centre", place
                inst = self.unit(
                    inst_code, inst_name, "institution", subtype, county, county_id=county["id"]
                )
                institution = _Place(
                    inst["id"], inst_code, inst_name, short, spec, county["id"], inst["id"]
                )
                self.institutions.append(institution)
                self.build_institution(institution, inst, county)
            auditor = "county" if spec.region == "411002" else f"{spec.region}-county"
            self.user(auditor, Role.COUNTY_AUDITOR, county["id"], "基层卫生健康科")
        self.user("city", Role.CITY_ADMIN, city["id"], "基层卫生健康处")
        self.user("finance", Role.FINANCE, city["id"], "社会保障科")
        self.user("admin", Role.ADMIN, None, "信息科", name="系统管理员")
        self.ensure_probation()

    def build_institution(self, institution: _Place, inst: Row, county: Row) -> None:
        rng, spec = self.rng, institution.county
        stations: list[_Place] = []
        station_rows: dict[int, Row] = {}
        for j in range(rng.randint(*self.spec.stations)):
            if spec.urban:
                home = self.unique_name(lambda: rng.choice(_ROADS) + "社区")
                name, subtype = f"{institution.short}{home}卫生服务站", "community_station"
            else:
                home = self.village_name()
                name, subtype = f"{institution.short}{home}卫生室", "village_clinic"
            code = f"{institution.code}-S{j + 1}"
            row = self.unit(code, name, "station", subtype, inst, county["id"], inst["id"])
            station_rows[row["id"]] = row
            station = _Place(row["id"], code, name, home, spec, county["id"], inst["id"], home)
            stations.append(station)
            self.stations.append(station)
        n_teams = min(rng.randint(*self.spec.teams), len(stations) + 1)
        for k in range(n_teams):
            # The first team works from the centre itself; the others from a station each.
            base: _Place | None = stations[k - 1] if k >= 1 else None
            parent = station_rows[base.id] if base else inst
            code = f"{institution.code}-T{k + 1}"
            if base:
                name = f"{base.name.removesuffix('卫生室').removesuffix('卫生服务站')}家庭医生团队"
            else:
                name = f"{institution.short}家庭医生第{_CN_NUM[k]}团队"
            row = self.unit(code, name, "team", None, parent, county["id"], inst["id"])
            rural = not spec.urban
            team = _Team(
                row["id"],
                code,
                name,
                spec,
                county["id"],
                institution,
                base.id if base else None,
                rural,
                self.traits(rural),
            )
            self.teams.append(team)
            self.staff_team(team, base is not None)
        # Stations without a team of their own are served by the centre's team.
        covered = {t.station_id for t in self.teams if t.institution is institution}
        uncovered = [s for s in stations if s.id not in covered]
        team0 = next(t for t in self.teams if t.institution is institution)
        self.team_stations[team0.id] = uncovered
        for team in self.teams:
            if team.institution is institution and team.station_id is not None:
                self.team_stations[team.id] = [s for s in stations if s.id == team.station_id]
        admin_name = "centre" if institution.code == "411002-01" else f"{institution.code}-centre"
        post = "中心主任" if spec.urban else "院长"
        institution.admin_id = self.user(admin_name, Role.CENTRE_ADMIN, inst["id"], post)

    def staff_team(self, team: _Team, at_station: bool) -> None:
        rng = self.rng
        first = team.code == "411002-01-T1"  # the demo logins' team
        lead_post = "乡村医生" if team.rural and at_station and rng.random() < 0.5 else "全科医生"
        leader = "leader" if first else f"{team.code.lower()}-leader"
        team.leader_id = self.user(leader, Role.TEAM_LEADER, team.id, lead_post)
        team.member_ids.append(team.leader_id)
        team.responsible_ids.append(team.leader_id)
        doctor_post = "乡村医生" if team.rural and at_station else "全科医生"
        posts = [doctor_post] + rng.sample(["护士", "公卫医生", doctor_post], rng.randint(1, 2))
        for m, post in enumerate(posts):
            username = "doctor" if first and m == 0 else f"{team.code.lower()}-d{m + 1}"
            probation = username != "doctor" and rng.random() < 0.04
            member = self.user(username, Role.DOCTOR, team.id, post, on_probation=probation)
            team.member_ids.append(member)
            if post != "护士":
                team.responsible_ids.append(member)

    def ensure_probation(self) -> None:
        users = self.rows["user_account"]
        if not any(u["on_probation"] for u in users):
            # Somebody must be new, so that distribution's "probation gets none" rule shows.
            candidates = [u for u in users if u["role"] == "doctor" and u["username"] != "doctor"]
            candidates[-1]["on_probation"] = True

    def build_packages(self) -> None:
        for code, name, kind, fee, description in _PACKAGES:
            self.packages[code] = self.add(
                "service_package",
                {
                    "id": self.next_id("service_package"),
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "fee_fen": fee,
                    "description": description,
                    "county_id": None,
                    "active": True,
                    "created_at": self.stamp,
                    "updated_at": self.stamp,
                },
            )

    # --- grid, households, residents ---

    def grid_cell(
        self,
        team: _Team,
        code: str,
        name: str,
        kind: str,
        parent: Row | None,
        station_id: int | None,
    ) -> Row:
        return self.add(
            "grid_cell",
            {
                "id": self.next_id("grid_cell"),
                "code": code,
                "name": name,
                "kind": kind,
                "parent_id": parent["id"] if parent else None,
                "county_id": team.county_id,
                "institution_id": team.institution.id,
                "team_id": team.id,
                "station_id": station_id,
            },
        )

    def build_grid(self, team: _Team) -> None:
        rng = self.rng
        served = self.team_stations.get(team.id) or []
        n_areas = rng.randint(1, 2)
        counts = [rng.randint(2, 4) for _ in range(n_areas)]
        k = 0
        named: set[int] = set()
        for a, n_comm in enumerate(counts):
            stations = [served[(k + c) % len(served)] if served else None for c in range(n_comm)]
            area_station = (
                stations[0].id if stations[0] and len(set(map(id, stations))) == 1 else None
            )
            if team.rural:
                area_name = f"{team.institution.short}{'东西南北'[(a + team.id) % 4]}片区"
            else:
                area_name = f"{team.name.removesuffix('家庭医生团队').removesuffix('团队')}第{_CN_NUM[a]}片区"
            area = self.grid_cell(
                team, f"{team.code}-A{a + 1}", area_name, "area", None, area_station
            )
            for c, station in enumerate(stations):
                station_id = station.id if station else None
                if team.rural:
                    # A village clinic's own village is one of the villages it serves.
                    if station and station.id not in named:
                        named.add(station.id)
                        name = station.home_name
                    else:
                        name = self.village_name()
                else:
                    name = self.unique_name(lambda: rng.choice(_ESTATES))
                code = f"{team.code}-A{a + 1}-C{c + 1}"
                community = self.grid_cell(team, code, name, "community", area, station_id)
                rural_extra = rng.uniform(0.12, 0.30)  # migrant workers registered but away
                if team.rural:
                    address = f"许昌市{team.county.name}{team.institution.short}{name}"
                    team.leaves.append(
                        _Cell(
                            community["id"],
                            station_id,
                            address,
                            rural_extra,
                            True,
                            rng.randint(3, 9),
                        )
                    )
                else:
                    street = team.institution.short + "街道"
                    extra = rng.uniform(0.06, 0.18)
                    for b in range(rng.randint(3, 6)):
                        number = b + 1 + rng.choice((0, 0, 2, 5))
                        building = self.grid_cell(
                            team,
                            f"{code}-B{b + 1}",
                            f"{name}{number}号楼",
                            "building",
                            community,
                            station_id,
                        )
                        address = f"许昌市{team.county.name}{street}{name}{number}号楼"
                        team.leaves.append(_Cell(building["id"], station_id, address, extra, False))
            k += n_comm

    def compose(self, rural: bool) -> list[tuple[str, str, int, bool]]:
        """One household's members: (relation, sex, age in days, shares the head's surname)."""
        rng = self.rng

        def years(lo: int, hi: int) -> int:
            return rng.randint(lo * 365, hi * 365 + 364)

        spread = self.spec.streaming

        def kid(max_age: int) -> int:
            age = rng.randint(0, 6) if rng.random() < 0.4 else rng.randint(7, 15)
            # A young mother's child is capped at 200 days old; at the benchmark scales the cap
            # is spread over the year, or thousands of babies would share one birthday and
            # exhaust its 500 citizen-id sequence numbers.
            cap = max(0, max_age) * 365 + (rng.randint(30, 364) if spread else 200)
            return min(years(age, age), cap)

        kinds = ("elderly", "left_behind", "young", "three_gen", "middle")
        weights = (30, 16, 20, 19, 15) if rural else (17, 4, 34, 20, 25)
        kind = rng.choices(kinds, weights=weights)[0]
        members: list[tuple[str, str, int, bool]] = []
        if kind == "elderly":
            head = years(60, 88)
            members += [("本人", "M", head, True), ("配偶", "F", head + years(-5, 1) + 365, False)]
            if rng.random() < 0.2:
                members.append(("子", "M", years(28, min(45, head // 365 - 22)), True))
        elif kind == "left_behind":
            head = years(56, 78)
            members += [("本人", "M", head, True)]
            if rng.random() < 0.7:
                members.append(("配偶", "F", head + years(-5, 1) + 365, False))
            for _ in range(rng.randint(1, 4 - len(members))):
                sex = rng.choice("MF")
                members.append(("孙子" if sex == "M" else "孙女", sex, kid(14), True))
        elif kind == "young":
            head = years(24, 42)
            wife = max(years(21, 21), head + years(-4, 1) + 365)
            members += [("本人", "M", head, True), ("配偶", "F", wife, False)]
            if rng.random() < 0.88:
                for _ in range(1 if rng.random() < 0.6 else 2):
                    sex = rng.choice("MF")
                    members.append(("子" if sex == "M" else "女", sex, kid(wife // 365 - 21), True))
        elif kind == "three_gen":
            son = years(27, 45)
            members.append(("本人", "M", son, True))
            members.append(("配偶", "F", son + years(-4, 1) + 365, False))
            old = son + years(24, 32)
            members.append(
                ("父亲", "M", old, True) if rng.random() < 0.5 else ("母亲", "F", old, False)
            )
            sex = rng.choice("MF")
            members.append(("子" if sex == "M" else "女", sex, kid(son // 365 - 22), True))
        else:
            head = years(40, 64)
            members += [("本人", "M", head, True), ("配偶", "F", head + years(-4, 1) + 365, False)]
            if rng.random() < 0.6:
                sex = rng.choice("MF")
                members.append(("子" if sex == "M" else "女", sex, years(18, 30), True))
        if rng.random() < 0.12 and members[0][2] > 45 * 365:
            # A widow heads the household: her husband has died.
            relation, _, age, _ = members[0]
            if len(members) > 2 and members[1][0] == "配偶":
                members.pop(1)
                members[0] = (relation, "F", age, False)
        return members

    def citizen_id(self, region: str, born: date, sex: str) -> str:
        parity = 1 if sex == "M" else 0
        for _ in range(50):
            number = cid.make(region, born, self.rng.randrange(0, 500) * 2 + parity)
            if number not in self._used_ids:
                self._used_ids.add(number)
                return number
        # A crowded birthday: take the first free sequence number rather than draw forever.
        for sequence in range(parity, 1000, 2):
            number = cid.make(region, born, sequence)
            if number not in self._used_ids:
                self._used_ids.add(number)
                return number
        raise DemoError(f"{region} 地区 {born.isoformat()} 出生的居民过多，身份证号顺序码已用尽")

    def stored_tags(self, age: int) -> set[str]:
        """Chronic disease rising with age (hypertension ~25% and diabetes ~10% of the 35+)."""
        rng, tags = self.rng, set()
        htn = (0.01, 0.10, 0.20, 0.30, 0.40, 0.46)
        dm = (0.002, 0.04, 0.075, 0.12, 0.15, 0.16)
        band = bisect.bisect_right((35, 45, 55, 65, 75), age)
        if rng.random() < htn[band]:
            tags.add("hypertension")
        if rng.random() < dm[band]:
            tags.add("diabetes")
        if 18 <= age <= 70 and rng.random() < 0.005:
            tags.add("mental_severe")
        if age >= 15 and rng.random() < 0.0015:
            tags.add("tuberculosis")
        if rng.random() < (0.03 if age < 60 else 0.08):
            tags.add("disabled")
        return tags

    def build_homes(self, team: _Team) -> None:
        rng = self.rng
        for _ in range(rng.randint(*self.spec.households)):
            cell = rng.choice(team.leaves)
            if cell.rural:
                address = (
                    f"{cell.address}{rng.randint(1, cell.group_count)}组{rng.randint(1, 120)}号"
                )
            else:
                address = f"{cell.address}{rng.randint(1, 4)}单元{rng.randint(1, 18)}{rng.randint(1, 4):02d}室"
            home = _Home(
                self.next_id("household"), team, cell, address, rng.choice(team.responsible_ids), []
            )
            surname = self.surname()
            poverty = rng.random() < (0.07 if team.rural else 0.012)
            members = self.compose(team.rural)
            special = len(members) == 2 and members[0][2] > 50 * 365 and rng.random() < 0.03
            for relation, sex, age_days, family in members:
                born = self.anchor - timedelta(days=age_days)
                age = cid.age_on(born, self.anchor)
                name = self.person_name(sex, born.year, surname if family else None)
                tags = self.stored_tags(age)
                if poverty:
                    tags.add("poverty")
                if special:
                    tags.add("special_family")
                has_phone = age >= 16 and (age < 75 or rng.random() < 0.4)
                person = _Person(
                    self.next_id("resident"),
                    name,
                    sex,
                    born,
                    relation,
                    tags,
                    self.phone() if has_phone else None,
                )
                person.controlled_bp = rng.random() < team.traits.control
                person.controlled_glucose = rng.random() < team.traits.control - 0.08
                if "tuberculosis" in tags:
                    person.tb_start = self.anchor - timedelta(days=rng.randint(20, 200))
                home.people.append(person)
            self.add_pregnancies(home)
            team.homes.append(home)

    def add_pregnancies(self, home: _Home) -> None:
        rng = self.rng
        mothers = [
            p for p in home.people if p.sex == "F" and 20 <= cid.age_on(p.born, self.anchor) <= 40
        ]
        if not mothers:
            return
        mother = mothers[0]
        infants = [p for p in home.people if (self.anchor - p.born).days < 365]
        if infants:
            delivery = infants[0].born
            mother.pregnancy = (delivery - timedelta(days=280 + rng.randint(-10, 7)), delivery)
        else:
            age = cid.age_on(mother.born, self.anchor)
            chance = (
                (0.3 if len(home.people) == 2 else 0.06) if age <= 34 else 0.03 if age <= 38 else 0
            )
            if rng.random() < chance:
                self.make_pregnant(mother, rng.randint(30, 265))
        self.set_maternal(mother)

    def make_pregnant(self, person: _Person, days_pregnant: int) -> None:
        person.pregnancy = (self.anchor - timedelta(days=days_pregnant), None)
        self.set_maternal(person)

    def set_maternal(self, person: _Person) -> None:
        if person.pregnancy and self.maternal_on(person, self.anchor):
            person.tags.add("maternal")

    @staticmethod
    def maternal_on(person: _Person, day: date) -> bool:
        if person.pregnancy is None:
            return False
        lmp, delivery = person.pregnancy
        if lmp > day:
            return False
        return delivery is None or day <= delivery + timedelta(days=42)

    def ensure_key_populations(
        self, teams: list[_Team] | None = None, institutions: list[_Place] | None = None
    ) -> None:
        """Every team gets a hypertensive household that signs early, a pregnancy and a
        severe mental illness patient, and every institution a TB patient, so that each
        indicator has data behind it at every level even at the small scale."""
        rng = self.rng
        for team in self.teams if teams is None else teams:
            people = [p for h in team.homes for p in h.people]
            adults = [p for p in people if cid.age_on(p.born, self.anchor) >= 35]
            if not any("hypertension" in p.tags for p in people):
                max(adults or people, key=lambda p: (self.anchor - p.born).days).tags.add(
                    "hypertension"
                )
            for home in team.homes:
                if any("hypertension" in p.tags for p in home.people):
                    home.must_sign = True
                    break
            if not any(p.pregnancy for p in people):
                women = [
                    p
                    for p in people
                    if p.sex == "F" and 22 <= cid.age_on(p.born, self.anchor) <= 38
                ]
                if women:
                    self.make_pregnant(rng.choice(women), rng.randint(100, 220))
            if not any("mental_severe" in p.tags for p in people):
                candidates = [
                    p
                    for p in people
                    if 20 <= cid.age_on(p.born, self.anchor) <= 60 and "maternal" not in p.tags
                ]
                if candidates:
                    rng.choice(candidates).tags.add("mental_severe")
        for institution in self.institutions if institutions is None else institutions:
            of_institution = [t for t in self.teams if t.institution is institution]
            people = [p for t in of_institution for h in t.homes for p in h.people]
            adults = [p for p in people if 18 <= cid.age_on(p.born, self.anchor) <= 75]
            if adults and not any("tuberculosis" in p.tags for p in people):
                person = rng.choice(adults)
                person.tags.add("tuberculosis")
                person.tb_start = self.anchor - timedelta(days=rng.randint(30, 150))

    def write_homes(self, teams: list[_Team] | None = None) -> None:
        for team in self.teams if teams is None else teams:
            for home in team.homes:
                # Registered before the earliest contract (455 days before the anchor).
                created = self.stamp + timedelta(
                    days=self.rng.randint(0, 200), hours=self.rng.randint(0, 8)
                )
                scope = {
                    "county_id": team.county_id,
                    "institution_id": team.institution.id,
                    "team_id": team.id,
                }
                phone = next((p.phone for p in home.people if p.phone), None)
                self.add(
                    "household",
                    {
                        "id": home.id,
                        "code": f"{team.code}-H{len(self.rows['household']) + 1:05d}",
                        "grid_cell_id": home.cell.id,
                        "station_id": home.cell.station_id,
                        "address": home.address,
                        "phone": phone,
                        "responsible_doctor_id": home.doctor_id,
                        "created_at": created,
                        "updated_at": created,
                        **scope,
                    },
                )
                for person in home.people:
                    number = self.citizen_id(team.county.region, person.born, person.sex)
                    row = {
                        "id": person.id,
                        "household_id": home.id,
                        "name": person.name,
                        "citizen_id": number,
                        "id_tail": number[-6:],
                        "sex": person.sex,
                        "birth_date": person.born,
                        "phone": person.phone,
                        "relation": person.relation,
                        "is_head": person.relation == "本人",
                        "status": "active",
                        "tb_treatment_start": person.tb_start,
                        "created_at": created,
                        "updated_at": created,
                        **scope,
                    }
                    for tag in (
                        "maternal",
                        "hypertension",
                        "diabetes",
                        "mental_severe",
                        "tuberculosis",
                        "disabled",
                        "poverty",
                        "special_family",
                    ):
                        row[f"tag_{tag}"] = tag in person.tags
                    self.add("resident", row)
                    if person.pregnancy:
                        lmp, delivery = person.pregnancy
                        self.add(
                            "pregnancy",
                            {
                                "id": self.next_id("pregnancy"),
                                "resident_id": person.id,
                                "county_id": team.county_id,
                                "lmp_date": lmp,
                                "delivery_date": delivery,
                            },
                        )

    # --- population denominators ---

    def tags_on(self, person: _Person, day: date) -> set[str]:
        tags = set(cid.derived_tags(person.born, day))
        tags |= person.tags - {"maternal", "tuberculosis"}
        if self.maternal_on(person, day):
            tags.add("maternal")
        if "tuberculosis" in person.tags and person.tb_start and person.tb_start <= day:
            tags.add("tuberculosis")
        return tags

    def figure_years(self) -> tuple[tuple[int, date], ...]:
        """This year's figures as of the anchor and last year's as of its last day."""
        return (
            (self.anchor.year, self.anchor),
            (self.anchor.year - 1, date(self.anchor.year - 1, 12, 31)),
        )

    def figure_counts(self, teams: list[_Team], day: date) -> dict[tuple[int, str], int]:
        """常住人口 and key-population counts on ``day`` for the teams' units and their parents."""
        counts: dict[tuple[int, str], int] = defaultdict(int)
        # 常住人口 is estimated per grid cell and rounded there, so every level adds up.
        per_cell: dict[int, float] = defaultdict(float)
        units_of: dict[int, tuple[int, ...]] = {}
        for team in teams:
            for home in team.homes:
                units: tuple[int, ...] = (team.id, team.institution.id, team.county_id)
                if home.cell.station_id:
                    units += (home.cell.station_id,)
                units_of[home.cell.id] = units
                for person in home.people:
                    if person.born > day:
                        continue
                    per_cell[home.cell.id] += 1 + home.cell.registered_extra
                    for tag in self.tags_on(person, day):
                        for unit in units:
                            counts[(unit, tag)] += 1
        for cell_id, value in per_cell.items():
            for unit in units_of[cell_id]:
                counts[(unit, "registered")] += math.ceil(value)
        return counts

    def add_figures(
        self, year: int, counts: Mapping[tuple[int, str], int], units: list[int]
    ) -> None:
        if not self._county_of:
            self._county_of = {t.id: t.county_id for t in self.teams}
            self._county_of |= {
                p.id: p.county_id for p in self.institutions + self.stations + self.counties
            }
        for unit in units:
            for category in POPULATION_CATEGORIES:
                self.add(
                    "population_figure",
                    {
                        "id": self.next_id("population_figure"),
                        "org_unit_id": unit,
                        "county_id": self._county_of[unit],
                        "year": year,
                        "category": category,
                        "count": counts.get((unit, category), 0),
                    },
                )

    def build_figures(self) -> None:
        """Yearly 常住人口 and key-population counts per team, station, institution, county."""
        for year, day in self.figure_years():
            counts = self.figure_counts(self.teams, day)
            ordered = [t.id for t in self.teams] + [s.id for s in self.stations]
            ordered += [i.id for i in self.institutions] + [c.id for c in self.counties]
            self.add_figures(year, counts, ordered)

    # --- contracts ---

    def build_contracts(self, home: _Home) -> None:
        rng, team = self.rng, home.team
        key = [p for p in home.people if self.tags_on(p, self.anchor)]
        chance = team.traits.sign_key if key else team.traits.sign_other
        boost = self.spec.sign_boost
        if boost:
            chance += (1 - chance) * boost
        if not home.must_sign and rng.random() >= chance:
            return
        members = [
            p
            for p in home.people
            if rng.random() < (0.97 if p in key else 0.35 + 0.6 * boost if key else 0.95)
            or (home.must_sign and "hypertension" in p.tags)
        ]
        if not members:
            members = [home.people[0]]
        term = 1 if any(p in key for p in members) else 3
        if home.must_sign:
            start = self.anchor - timedelta(days=rng.randint(200, 330))
        else:
            start = self.anchor - timedelta(days=rng.randint(1, 455))
        packages = self.choose_packages(members)
        previous: Row | None = None
        while True:
            end = _add_years(start, term) - timedelta(days=1)
            if previous is None:
                signed_on = start - timedelta(days=rng.randint(0, 3))
            else:
                signed_on = previous["end_date"] - timedelta(days=rng.randint(0, 25))
            contract = self.contract(home, members, packages, signed_on, start, end, previous)
            if end >= self.anchor:
                break
            if rng.random() < 0.78:  # most key-population contracts are renewed on expiry
                contract["status"] = "renewed"
                previous = contract
                start = end + timedelta(days=1)
                continue
            contract["status"] = "expired"
            break
        if contract["status"] == "active" and not home.must_sign and rng.random() < 0.025:
            earliest = contract["start_date"] + timedelta(days=20)
            if earliest < self.last_day:
                stopped = self.day_between(earliest, self.last_day)
                contract.update(
                    status="terminated",
                    terminated_on=stopped,
                    termination_reason=rng.choice(_TERMINATION_REASONS),
                    updated_at=self.at(stopped),
                )

    def finish_contracts(self, teams: list[_Team] | None = None) -> None:
        """Members are active only in active contracts; services stop when a contract stops."""
        contracts = {row["id"]: row for row in self.rows["contract"]}
        for row in self.rows["contract_member"]:
            row["is_active"] = contracts[row["contract_id"]]["status"] == "active"
        for team in self.teams if teams is None else teams:
            for home in team.homes:
                for person in home.people:
                    spans = []
                    for start, end, contract_id in person.spans:
                        stopped = contracts[contract_id]["terminated_on"]
                        end = min(end, stopped or end, self.last_day)
                        if end >= start:
                            spans.append((start, end, contract_id))
                    person.spans = spans

    def choose_packages(self, members: list[_Person]) -> list[tuple[str, int]]:
        rng, tagged = self.rng, [self.tags_on(p, self.anchor) for p in members]
        chosen = [("BASIC", 0)]
        wanted = (
            ("ELDERLY", sum("elderly65" in t for t in tagged), 0.45),
            ("CHRONIC", sum(bool(t & {"hypertension", "diabetes"}) for t in tagged), 0.5),
            ("CHILD", sum("child0_6" in t for t in tagged), 0.4),
            ("MATERNAL", sum("maternal" in t for t in tagged), 0.6),
        )
        for code, eligible, chance in wanted:
            if eligible and rng.random() < chance:
                chosen.append((code, self.packages[code]["fee_fen"] * eligible))
        return chosen

    def contract(
        self,
        home: _Home,
        members: list[_Person],
        packages: list[tuple[str, int]],
        signed_on: date,
        start: date,
        end: date,
        previous: Row | None,
    ) -> Row:
        rng, team = self.rng, home.team
        contract_id = self.next_id("contract")
        self.contract_numbers[team.county.region] += 1
        number = self.contract_numbers[team.county.region]
        signed_at = self.at(signed_on, 8, 12)
        copies = 2
        if start >= self.anchor - timedelta(days=14) and rng.random() < 0.35:
            copies = rng.choice((0, 1))  # the paper copies of the newest ones are still out
        scope = {
            "county_id": team.county_id,
            "institution_id": team.institution.id,
            "team_id": team.id,
        }
        row = self.add(
            "contract",
            {
                "id": contract_id,
                "code": f"QY{team.county.region}{signed_on.year}{number:05d}",
                "household_id": home.id,
                "doctor_id": home.doctor_id,
                "signed_on": signed_on,
                "start_date": start,
                "end_date": end,
                "status": "active",
                "first_contact": rng.random() < 0.72,
                "copies_signed": copies,
                "copies_signed_at": signed_at if copies else None,
                "terminated_on": None,
                "termination_reason": None,
                "renewed_from_id": previous["id"] if previous else None,
                "created_by_id": home.doctor_id,
                "created_at": signed_at,
                "updated_at": signed_at,
                **scope,
            },
        )
        if previous is not None:
            previous["updated_at"] = signed_at
        for person in members:
            self.add(
                "contract_member",
                {
                    "id": self.next_id("contract_member"),
                    "contract_id": contract_id,
                    "resident_id": person.id,
                    "is_active": False,
                    **scope,
                },
            )
            person.spans.append((start, end, contract_id))
        for code, fee in packages:
            self.add(
                "contract_package",
                {
                    "id": self.next_id("contract_package"),
                    "contract_id": contract_id,
                    "package_id": self.packages[code]["id"],
                    "fee_fen": fee,
                },
            )
        return row

    # --- services ---

    def in_window(self, day: date) -> bool:
        return self.window_start <= day <= self.last_day

    def covered(self, person: _Person, lo: date, hi: date) -> list[tuple[date, date, int]]:
        """The person's contract spans clipped to [lo, hi] and to the service window."""
        lo, hi = max(lo, self.window_start), min(hi, self.last_day)
        return [(max(s, lo), min(e, hi), c) for s, e, c in person.spans if max(s, lo) <= min(e, hi)]

    def pick_day(self, segments: list[tuple[date, date, int]]) -> date | None:
        """A day drawn evenly from the union of the segments."""
        total = sum((e - s).days + 1 for s, e, _ in segments)
        if not total:
            return None
        k = self.rng.randrange(total)
        for s, e, _ in segments:
            days = (e - s).days + 1
            if k < days:
                return s + timedelta(days=k)
            k -= days
        raise AssertionError("unreachable")

    def contract_on(self, person: _Person, day: date) -> int | None:
        return next((c for s, e, c in person.spans if s <= day <= e), None)

    def record(self, team: _Team, type_: str, day: date, doctor_id: int, **fields: Any) -> Row:
        """One service record; entry is usually within hours, late for a team-specific share."""
        rng = self.rng
        served_at = self.at(day)
        roll = rng.random()
        # Timely entries stay within 48 h of the service date's midnight and late ones are past
        # 48 h from the service itself, so A5 reads the same whichever of the two it measures.
        if roll < team.traits.late:
            entered = served_at + timedelta(minutes=rng.randint(49 * 60, 10 * 24 * 60))
        elif roll < 0.72:
            entered = served_at + timedelta(minutes=rng.randint(5, 6 * 60))
        else:
            entered = self.at(day + timedelta(days=1), 8, 21)
        row: Row = {
            "id": self.next_id("service_record"),
            "client_uuid": self.uuid(),
            "resident_id": None,
            "contract_id": None,
            "doctor_id": doctor_id,
            "station_id": team.station_id,
            "service_date": day,
            "category": SERVICE_TYPES[type_][0],
            "type": type_,
            "systolic_bp": None,
            "diastolic_bp": None,
            "fasting_glucose": None,
            "attendance": None,
            "topic": None,
            "other_institution_id": None,
            "other_institution_name": None,
            "referral_received_at": None,
            "referral_received_by_id": None,
            "notes": None,
            "entered_at": min(entered, self.entry_limit),
            "entered_by_id": doctor_id,
            "device_id": f"PAD-{doctor_id:05d}" if rng.random() < 0.6 else None,
            "version": 1,
            "verification": "unverified",
            "county_id": team.county_id,
            "institution_id": team.institution.id,
            "team_id": team.id,
        }
        row.update(fields)
        return self.add("service_record", row)

    def serve(
        self, home: _Home, person: _Person, type_: str, day: date, doctor_id: int = 0, **fields: Any
    ) -> Row:
        """A service to one resident, by their own doctor unless given, under the contract in
        force that day (if any)."""
        if not doctor_id:
            doctor_id = (
                home.doctor_id
                if self.rng.random() < 0.75
                else self.rng.choice(home.team.member_ids)
            )
        row = self.record(
            home.team,
            type_,
            day,
            doctor_id,
            resident_id=person.id,
            contract_id=self.contract_on(person, day),
            station_id=home.cell.station_id,
            **fields,
        )
        self.records_by_resident[person.id].append(row)
        return row

    def quarters(self) -> list[tuple[date, date]]:
        result, start = [], _quarter_start(self.window_start)
        while start <= self.last_day:
            end = _add_months(start, 3) - timedelta(days=1)
            result.append((start, end))
            start = end + timedelta(days=1)
        return result

    def months(self) -> Iterator[tuple[date, date]]:
        """The twelve calendar months up to the anchor, clipped to the service window."""
        first = _add_months(self.anchor.replace(day=1), -11)
        for k in range(12):
            start = _add_months(first, k)
            lo = max(start, self.window_start)
            hi = min(_add_months(start, 1) - timedelta(days=1), self.last_day)
            if lo <= hi:
                yield lo, hi

    def notes(self, choices: tuple[str, ...]) -> dict[str, Any]:
        return {"notes": self.rng.choice(choices)}

    def blood_pressure(self, controlled: bool) -> dict[str, int]:
        rng = self.rng
        if rng.random() < 0.12:  # one reading in eight goes against the patient's usual state
            controlled = not controlled
        if controlled:
            systolic, diastolic = rng.triangular(108, 139, 128), rng.triangular(62, 89, 80)
        else:
            systolic, diastolic = rng.triangular(141, 182, 152), rng.triangular(78, 108, 94)
        return {"systolic_bp": int(systolic), "diastolic_bp": int(diastolic)}

    def glucose(self, controlled: bool) -> dict[str, Decimal]:
        rng = self.rng
        if rng.random() < 0.12:
            controlled = not controlled
        value = rng.triangular(4.6, 6.9, 6.1) if controlled else rng.triangular(7.1, 14.5, 8.6)
        return {"fasting_glucose": Decimal(f"{value:.1f}")}

    def build_services(self, team: _Team) -> None:
        for home in team.homes:
            for person in home.people:
                self.public_health(home, person)
                if person.spans:
                    self.medical_services(home, person)
        self.education_events(team)
        self.referrals(team)

    def public_health(self, home: _Home, person: _Person) -> None:
        """基本公共卫生: due to every resident, signed or not, in the windows of
        assessments.care_schedule. Signed residents are served a little more reliably."""
        rng, traits = self.rng, home.team.traits
        engaged = 1.0 if person.spans else 0.85
        quarters = self.quarters()
        if "hypertension" in person.tags:
            rate = traits.followup * engaged
            bp = partial(self.blood_pressure, person.controlled_bp)
            self.periodic(home, person, "hypertension_followup", rate, quarters, bp)
        if "diabetes" in person.tags:
            rate = (traits.followup - 0.03) * engaged
            glucose = partial(self.glucose, person.controlled_glucose)
            self.periodic(home, person, "diabetes_followup", rate, quarters, glucose)
        if "mental_severe" in person.tags:
            rate = (traits.followup + 0.05) * engaged
            state = partial(self.notes, _MENTAL_NOTES)
            self.periodic(home, person, "mental_followup", rate, quarters, state)
        sixty_five = _add_years(person.born, 65)
        if sixty_five <= self.last_day:
            # One checkup per calendar year from the 65th birthday on.
            years = [
                (max(date(year, 1, 1), sixty_five), date(year, 12, 31))
                for year in range(self.window_start.year, self.last_day.year + 1)
            ]
            checkup = partial(self.notes, ("老年人年度健康体检",))
            self.periodic(home, person, "elderly_checkup", traits.checkup * engaged, years, checkup)
        if (self.anchor - person.born).days < 8 * 365:
            self.child_services(home, person, engaged)
        if person.pregnancy:
            self.maternal_services(home, person, engaged)
        if person.tb_start:
            for k in range(6):  # once in each month of the six-month course
                day = _add_months(person.tb_start, k) + timedelta(days=rng.randint(0, 20))
                if self.in_window(day) and rng.random() < 0.93:
                    self.serve(home, person, "tb_followup", day, notes="督导服药，评估不良反应")

    def periodic(
        self,
        home: _Home,
        person: _Person,
        type_: str,
        rate: float,
        periods: list[tuple[date, date]],
        fields: Callable[[], Mapping[str, Any]],
    ) -> None:
        """One service per period (quarter or year), some missed; an uncontrolled reading
        brings a recheck within a month."""
        rng = self.rng
        for p_start, p_end in periods:
            lo, hi = max(p_start, self.window_start), min(p_end, self.last_day)
            if lo > hi:
                continue
            share = ((hi - lo).days + 1) / ((p_end - p_start).days + 1)
            # A period only partly inside the window had its service inside it in proportion.
            if rng.random() >= rate * min(1.0, 1.3 * share):
                continue
            day = self.day_between(lo, hi)
            row = self.serve(home, person, type_, day, **fields())
            uncontrolled = (row["systolic_bp"] or 0) >= 140 or (row["diastolic_bp"] or 0) >= 90
            uncontrolled |= (row["fasting_glucose"] or 0) >= 7
            recheck = day + timedelta(days=rng.randint(14, 28))
            if uncontrolled and rng.random() < 0.25 and self.in_window(recheck):
                self.serve(home, person, type_, recheck, row["doctor_id"], **fields())

    def child_services(self, home: _Home, person: _Person, engaged: float) -> None:
        rng = self.rng
        rate = min(0.98, home.team.traits.checkup + 0.12) * engaged
        for months, label in _CHILD_CHECKS:
            # Inside the care-schedule windows: 28-30 days old for the neonatal check, within a
            # month of the target age (later ages: two or three) for the others.
            if months == 1:
                day = person.born + timedelta(days=rng.randint(28, 30))
            else:
                day = _add_months(person.born, months) + timedelta(days=rng.randint(-10, 20))
            if self.in_window(day) and rng.random() < rate:
                self.serve(home, person, "child_checkup", day, notes=label)
        for months, vaccines in _VACCINES:
            late = rng.randint(0, 20 if months else 1)
            day = _add_months(person.born, months) + timedelta(days=late)
            # Vaccination reaches nearly every child; any team member may give it.
            if self.in_window(day) and rng.random() < 0.96:
                nurse = rng.choice(home.team.member_ids)
                self.serve(home, person, "vaccination", day, nurse, notes=vaccines)

    def maternal_services(self, home: _Home, person: _Person, engaged: float) -> None:
        rng = self.rng
        assert person.pregnancy is not None
        lmp, delivery = person.pregnancy
        rate = min(0.98, home.team.traits.checkup + 0.1) * engaged
        for first, last, label, after_delivery in _MATERNAL_VISITS:
            since = delivery if after_delivery else lmp
            if since is None:
                continue  # not delivered yet
            day = since + timedelta(days=rng.randint(first, last))
            if not after_delivery and delivery is not None and day >= delivery:
                continue  # born before this antenatal visit
            if self.in_window(day) and rng.random() < rate:
                self.serve(home, person, "maternal_visit", day, notes=label)

    def medical_services(self, home: _Home, person: _Person) -> None:
        """Consultations, home visits and prescription reviews while signed, by need and by the
        team's volume."""
        segments = self.covered(person, self.window_start, self.last_day)
        share = sum((e - s).days + 1 for s, e, _ in segments) / 365
        if not share:
            return
        age = cid.age_on(person.born, self.anchor)
        chronic = bool(person.tags & {"hypertension", "diabetes"})
        base = 2.4 if chronic else 1.8 if age >= 65 else 1.1 if age <= 6 else 0.6
        housebound = age >= 75 or bool(person.tags & {"disabled", "mental_severe"})
        volume = home.team.traits.volume * self.spec.volume
        plan = (
            ("consultation", base * volume * share, _CONSULT_NOTES),
            ("home_visit", (1.5 if housebound else 0.06) * volume * share, _HOME_VISIT_NOTES),
            ("prescription_review", (1.4 if chronic else 0.0) * share, ("长处方续方，用药指导",)),
        )
        for type_, lam, notes in plan:
            for _ in range(self.poisson(lam)):
                day = self.pick_day(segments)
                assert day is not None
                self.serve(home, person, type_, day, notes=self.rng.choice(notes))

    def education_events(self, team: _Team) -> None:
        """Monthly health-education sessions (健康教育活动), a few months skipped."""
        rng = self.rng
        place = "村委会大院" if team.rural else "社区党群服务中心"
        for lo, hi in self.months():
            if rng.random() < team.traits.education_skip:
                continue
            day = self.day_between(lo, hi)
            doctor = team.leader_id if rng.random() < 0.5 else rng.choice(team.member_ids)
            row = self.record(
                team,
                "health_education",
                day,
                doctor,
                attendance=rng.randint(12, 45 if team.rural else 60),
                topic=rng.choice(_EDUCATION_TOPICS),
                notes=f"地点：{place}",
            )
            if rng.random() < 0.4:
                row["verification"] = "confirmed"  # the centre checked the sign-in sheet

    def referrals(self, team: _Team) -> None:
        """Two-way referrals (双向转诊) each month; every team has made at least a couple."""
        rng = self.rng
        signed = [(h, p) for h in team.homes for p in h.people if p.spans]
        if not signed:
            return
        months = list(self.months())
        made = 0
        for attempt in range(len(months) + 60):
            if attempt < len(months):
                lo, hi = months[attempt]
                count = self.poisson(team.traits.referrals)
            elif made < 2:
                lo, hi = rng.choice(months)
                count = 1
            else:
                break
            for _ in range(count):
                home, person = rng.choice(signed)
                day = self.pick_day(self.covered(person, lo, hi))
                if day is not None:
                    self.referral(home, person, day)
                    made += 1

    def referral(self, home: _Home, person: _Person, day: date) -> None:
        rng, team = self.rng, home.team
        doctor = home.doctor_id
        receiver: int | None = doctor  # a referral down is received by the team itself
        if rng.random() < 0.65:
            type_, notes = "referral_up", rng.choice(_REFERRAL_UP_NOTES)
            if team.station_id is not None and rng.random() < 0.5:
                # A village clinic or community station refers up to its own centre.
                other_id, other_name = team.institution.id, team.institution.name
                receiver = team.institution.admin_id
            else:
                other_id, other_name, receiver = None, rng.choice(team.county.hospitals), None
        else:
            type_, notes = "referral_down", rng.choice(_REFERRAL_DOWN_NOTES)
            other_id, other_name = None, rng.choice(team.county.hospitals)
        received_at = None
        if rng.random() < team.traits.receipt:
            received_at = self.at(day) + timedelta(hours=rng.randint(2, 72))
            if received_at > self.entry_limit:
                received_at = None  # not confirmed yet
        self.serve(
            home,
            person,
            type_,
            day,
            doctor,
            other_institution_id=other_id,
            other_institution_name=other_name,
            referral_received_at=received_at,
            referral_received_by_id=receiver if received_at else None,
            notes=notes,
        )

    # --- verification calls, satisfaction surveys, complaints ---

    def verification_quarters(self) -> list[tuple[date, date]]:
        """The last four quarters that ended at least a week before the anchor."""
        result: list[tuple[date, date]] = []
        start = _quarter_start(self.anchor)
        while len(result) < 4:
            start = _add_months(start, -3)
            end = _add_months(start, 3) - timedelta(days=1)
            if end <= self.anchor - timedelta(days=7):
                result.append((start, end))
        return result[::-1]

    def grade(self, team: _Team) -> int:
        q = team.traits.quality
        weights = (0.45 + 0.4 * q, 0.32 - 0.12 * q, 0.2 - 0.18 * q, 0.1 - 0.1 * q)
        return self.rng.choices((100, 80, 60, 20), weights=weights)[0]

    def response(
        self,
        team: _Team,
        person: _Person,
        period: str,
        day: date,
        channel: str,
        surveyor: int | None,
        item_id: int | None,
    ) -> Row:
        rng = self.rng
        satisfaction = self.grade(team)
        comment = rng.choice(_SURVEY_COMMENTS) if rng.random() < 0.15 else None
        return self.add(
            "survey_response",
            {
                "id": self.next_id("survey_response"),
                "client_uuid": self.uuid(),
                "resident_id": person.id,
                "period": period,
                "surveyed_on": day,
                "channel": channel,
                "surveyor_id": surveyor,
                "sample_item_id": item_id,
                "satisfaction": satisfaction,
                "knows_doctor": rng.random() < team.traits.knows,
                "comment": comment,
                "created_at": self.at(day, 9, 18),
                "county_id": team.county_id,
                "institution_id": team.institution.id,
                "team_id": team.id,
            },
        )

    def build_surveys(
        self, institutions: list[_Place] | None = None, teams: list[_Team] | None = None
    ) -> None:
        """Each quarter each centre draws residents per team and calls them (抽查复核)."""
        rng = self.rng
        for q_start, q_end in self.verification_quarters():
            for institution in self.institutions if institutions is None else institutions:
                drawn_on = q_end + timedelta(days=rng.randint(1, 6))
                sample = _Sample(
                    self.next_id("verification_sample"),
                    institution,
                    _quarter_label(q_start),
                    q_start,
                    q_end,
                    drawn_on,
                )
                seed = rng.getrandbits(63)  # like assessments.sampling.new_seed, but seeded
                self.add(
                    "verification_sample",
                    {
                        "id": sample.id,
                        "org_unit_id": institution.id,
                        "county_id": institution.county_id,
                        "level": "L2",
                        "period": sample.period,
                        "seed": seed,
                        "rate": "0.05",
                        "minimum": 20,
                        "drawn_at": self.at(drawn_on, 9, 11),
                        "drawn_by_id": institution.admin_id,
                    },
                )
                # Drawn with the app's own sampler, so the recorded seed replays this very draw.
                drawn_teams = [t for t in self.teams if t.institution is institution]
                signed = {
                    team.id: {
                        p.id: p
                        for h in team.homes
                        for p in h.people
                        if any(s <= q_end and e >= q_start for s, e, _ in p.spans)
                    }
                    for team in drawn_teams
                }
                drawn = sampling.draw_residents_per_team(
                    {team_id: list(people) for team_id, people in signed.items()}, seed
                )
                order = 0
                for team in drawn_teams:
                    for resident_id in drawn[team.id]:
                        order += 1
                        self.sample_call(sample, team, signed[team.id][resident_id], order)
        for team in self.teams if teams is None else teams:
            self.walk_in_surveys(team)

    def sample_call(self, sample: _Sample, team: _Team, person: _Person, order: int) -> None:
        """One sampled resident: the call, their ratings and what they say about their records."""
        rng = self.rng
        done = rng.random() < 0.9
        item_id = self.next_id("verification_sample_item")
        self.add(
            "verification_sample_item",
            {
                "id": item_id,
                "sample_id": sample.id,
                "team_id": team.id,
                "resident_id": person.id,
                "draw_order": order,
                "status": "done" if done else "unreachable",
            },
        )
        if not done:
            return
        day = min(sample.drawn_on + timedelta(days=rng.randint(0, 10)), self.last_day)
        channel = "phone" if rng.random() < 0.9 else "visit"
        surveyor = sample.institution.admin_id
        response = self.response(team, person, sample.period, day, channel, surveyor, item_id)
        records = [
            r
            for r in self.records_by_resident[person.id]
            if sample.q_start <= r["service_date"] <= sample.q_end
        ]
        for record in rng.sample(records, min(2, len(records))):
            roll = rng.random()
            if roll < team.traits.bad:
                answer = "not_received"
                # Followed up by the centre: some turn out false, the rest stay disputed.
                record["verification"] = "false" if rng.random() < 0.35 else "disputed"
            elif roll < team.traits.bad + 0.06:
                answer = "unsure"
            else:
                answer = "received"
                record["verification"] = "confirmed"
            self.add(
                "survey_record_check",
                {
                    "id": self.next_id("survey_record_check"),
                    "response_id": response["id"],
                    "service_record_id": record["id"],
                    "answer": answer,
                },
            )

    def walk_in_surveys(self, team: _Team) -> None:
        """Self-service (扫码) and home-visit questionnaires, spread over the year."""
        rng = self.rng
        signed = [p for h in team.homes for p in h.people if p.spans]
        if not signed:
            return
        for lo, hi in self.months():
            for _ in range(self.poisson(1.5)):
                person = rng.choice(signed)
                day = self.day_between(lo, hi)
                if self.contract_on(person, day) is None:
                    continue
                if rng.random() < 0.7:
                    channel, surveyor = "self", None
                else:
                    channel, surveyor = "visit", team.institution.admin_id
                self.response(team, person, _quarter_label(day), day, channel, surveyor, None)

    def build_complaints(self) -> None:
        rng = self.rng
        count = max(6, len(self.teams) // 3) + rng.randint(0, 4)
        statuses = ["verified", "rejected", "open"] * 2
        statuses += rng.choices(("verified", "rejected", "open"), weights=(4, 4, 2), k=count - 6)
        for status in statuses:
            team = rng.choice(self.teams)
            institution = team.institution
            if status == "open":
                received = self.last_day - timedelta(days=rng.randint(0, 25))
            else:
                received = self.day_between(self.window_start, self.last_day - timedelta(days=20))
            resolved_on = min(received + timedelta(days=rng.randint(3, 20)), self.last_day)
            resolution = {
                "verified": "经核实情况属实，已对责任医生批评教育并责令整改，向投诉人反馈",
                "rejected": "经调查核实，投诉情况不属实，已向投诉人解释说明",
                "open": None,
            }[status]
            sex = rng.choice(("先生", "女士"))
            self.add(
                "complaint",
                {
                    "id": self.next_id("complaint"),
                    "doctor_id": rng.choice(team.member_ids) if rng.random() < 0.7 else None,
                    "received_on": received,
                    "channel": rng.choice(_COMPLAINT_CHANNELS),
                    "complainant": self.surname() + sex,
                    "content": rng.choice(_COMPLAINTS),
                    "status": status,
                    "resolution": resolution,
                    "resolved_by_id": institution.admin_id if resolution else None,
                    "resolved_at": self.at(resolved_on) if resolution else None,
                    "recorded_by_id": institution.admin_id,
                    "created_at": self.at(received),
                    "county_id": team.county_id,
                    "institution_id": institution.id,
                    "team_id": team.id,
                },
            )
