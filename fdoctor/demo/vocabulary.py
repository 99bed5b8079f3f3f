"""The fixed lists the demo city is drawn from: counties and their streets or towns, names,
roads and estates, service packages, the care schedules and the texts of notes, surveys and
complaints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CountySpec:
    region: str
    name: str
    subtype: str
    pool: int  # 0 = 市区, 1 = 县市
    urban: bool
    places: tuple[str, ...]  # streets (街道) or towns (镇), one per institution
    hospitals: tuple[str, ...]  # where referrals go up to


# fmt: off
COUNTIES = (
    CountySpec("411002", "魏都区", "district", 0, True,
                ("西大街街道", "南关街道", "五一路街道", "高桥营街道"),
                ("许昌市中心医院", "许昌市人民医院", "许昌市中医院")),
    CountySpec("411003", "建安区", "district", 0, True,
                ("新元街道", "尚集街道", "长村张街道"),
                ("建安区人民医院", "许昌市中心医院", "许昌市妇幼保健院")),
    CountySpec("411071", "东城区", "district", 0, True,
                ("龙湖街道", "祖师街道", "半截河街道"),
                ("许昌市人民医院", "许昌市中心医院")),
    CountySpec("411081", "禹州市", "county_city", 1, False,
                ("神垕镇", "鸿畅镇", "顺店镇", "方山镇"),
                ("禹州市人民医院", "禹州市中医院", "许昌市中心医院")),
    CountySpec("411082", "长葛市", "county_city", 1, False,
                ("大周镇", "后河镇", "石固镇", "坡胡镇"),
                ("长葛市人民医院", "长葛市中医院", "许昌市中心医院")),
    CountySpec("411024", "鄢陵县", "county", 1, False,
                ("柏梁镇", "陈化店镇", "马栏镇", "望田镇"),
                ("鄢陵县人民医院", "鄢陵县中医院", "许昌市人民医院")),
)
# The city scale adds the remaining county and the two functional zones the city pays as
# counties (their codes here are the city's own, not national division codes).
MORE_COUNTIES = (
    CountySpec("411025", "襄城县", "county", 1, False,
                ("城关镇", "颍桥回族镇", "麦岭镇", "库庄镇"),
                ("襄城县人民医院", "襄城县中医院", "许昌市中心医院")),
    CountySpec("411073", "经济技术开发区", "district", 0, True,
                ("长村张街道", "魏武路街道"),
                ("许昌市中心医院", "许昌市人民医院")),
    CountySpec("411074", "城乡一体化示范区", "district", 0, True,
                ("祖师街道", "许由街道"),
                ("许昌市人民医院", "许昌市中医院")),
)
# fmt: on


def county_specs(count: int) -> tuple[CountySpec, ...]:
    """The demo's six counties, one per pool for the county scale, nine for the city scale."""
    if count == 2:
        return (COUNTIES[0], COUNTIES[3])
    return (COUNTIES + MORE_COUNTIES)[:count]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶贺顾毛郝"
)
# Henan's commonest surnames first; the weights fall off so that 王/李/张 dominate as they do.
SURNAME_WEIGHTS = [max(1.0, 12.0 - i * 0.6) for i in range(len(SURNAMES))]
GIVEN = {
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
ROADS = _words(
    "文化路 建设路 劳动路 八一路 七一路 健康路 光明路 学院路 魏文路 许继大道 新兴路 天宝路 南海街 "
    "毓秀路 永兴路 延安路 春秋路 颍昌大道 莲城大道 魏武大道 灞陵路 竹林路 鹿鸣湖 芙蓉湖 宏腾路 "
    "东城路 长村路 兴业路 昌盛路 学府街"
)
ESTATES = _words(
    "阳光花园 锦绣华庭 和谐家园 幸福里 金色家园 翡翠城 世纪花园 帝景苑 福园 龙湖湾 学府佳苑 银河小区 "
    "水岸名居 盛世华城 森林半岛 明珠花园 桃园小区 紫荆苑 丽景湾 御景园 东方家园 天润城 清华园 怡和苑 "
    "春晖小区 碧水蓝天 新天地 文昌苑 魏都花园 鑫苑名家 长安小区 许继小区 电力小区 烟厂家属院 教师新村 "
    "农行家属院 交通局家属院 棉纺厂家属院 粮食局家属院 公园壹号 滨河花园 金水湾 书香苑 瑞园 "
    "凤凰城 阳光水岸 佳和园 泰和苑"
)
VILLAGE_SUFFIXES = ("庄", "营", "寨", "湾", "楼", "岗", "集", "桥", "店", "坡", "庙", "屯")
VILLAGE_PREFIXES = ("", "", "", "大", "小", "前", "后", "东", "西", "南", "北")
CN_NUM = "一二三四五六七八九十"

# fmt: off
PACKAGES = (
    # code, name, kind, fee per person per year (fen), description
    ("BASIC", "基础包", "basic", 0, "基本医疗和基本公共卫生服务、健康咨询、预约转诊，免费"),
    ("ELDERLY", "老年人个性化包", "personalised", 8000, "65岁及以上老年人：年度体检加项、上门随访、用药指导"),
    ("CHRONIC", "慢病个性化包", "personalised", 12000, "高血压、糖尿病患者：定期随访、指标监测、长处方"),
    ("CHILD", "儿童个性化包", "personalised", 6000, "0-6岁儿童：生长发育评估、营养与喂养指导"),
    ("MATERNAL", "孕产妇个性化包", "personalised", 10000, "孕产妇：孕期随访、产后访视、母乳喂养指导"),
)
# Child health checks (months of age) and the national immunisation schedule.
CHILD_CHECKS = (
    (1, "新生儿满月健康管理"), (3, "3月龄健康检查"), (6, "6月龄健康检查"), (8, "8月龄健康检查"),
    (12, "1岁健康检查"), (18, "18月龄健康检查"), (24, "2岁健康检查"), (30, "30月龄健康检查"),
    (36, "3岁健康检查"), (48, "4岁健康检查"), (60, "5岁健康检查"), (72, "6岁健康检查"),
)
VACCINES = (
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
MATERNAL_VISITS = (
    (56, 88, "孕早期健康管理（建册）", False), (114, 144, "孕中期随访（16-20周）", False),
    (149, 172, "孕中期随访（21-24周）", False), (198, 254, "孕晚期随访（28-36周）", False),
    (260, 282, "孕晚期随访（37-40周）", False), (3, 7, "产后访视", True),
    (42, 54, "产后42天健康检查", True),
)
EDUCATION_TOPICS = (
    "高血压防治知识讲座", "糖尿病饮食与运动指导", "老年人防跌倒知识讲座", "儿童预防接种知识宣传",
    "合理膳食 健康生活", "春季传染病预防", "冬季心脑血管疾病预防", "中医药健康养生讲座",
    "控烟限酒 健康生活", "孕产期保健知识讲座", "心理健康讲座", "肺结核防治宣传",
    "家庭医生签约服务政策宣传", "急救知识培训（心肺复苏）", "夏季防暑降温与食品安全",
    "慢阻肺早期筛查宣传",
)
CONSULT_NOTES = (
    "感冒发热，对症处理", "头晕，测血压并随诊", "咳嗽咳痰，开具止咳药", "腰腿痛，理疗建议",
    "血压复测，调整用药", "血糖复测，饮食指导", "胃部不适，用药指导", "失眠，健康指导",
    "皮肤瘙痒，外用药", "健康咨询",
)
HOME_VISIT_NOTES = ("上门测血压、用药指导", "上门康复指导", "上门健康评估")
REFERRAL_UP_NOTES = (
    "血压控制不佳，转上级医院调整方案", "胸闷待查", "血糖控制不佳", "外伤待查",
    "疑似脑卒中，紧急转诊",
)
REFERRAL_DOWN_NOTES = (
    "术后康复，转回社区管理", "病情稳定，转回基层继续治疗", "慢病稳定期，转回家庭医生管理",
)
MENTAL_NOTES = ("病情稳定", "病情基本稳定", "病情不稳定，建议专科复诊")
SURVEY_COMMENTS = (
    "医生很负责", "希望多上门服务", "随访很及时", "联系医生不太方便", "希望增加体检项目", "服务态度好",
)
PHONE_PREFIXES = _words("135 136 137 138 139 150 151 155 158 159 176 177 183 185 186 187 188 199")
# fmt: on
COMPLAINTS = (
    "签约后家庭医生从未上门随访",
    "随访记录与实际不符，本人未接受过血压测量",
    "签约医生服务态度差，说话不耐烦",
    "签约时承诺的免费体检没有落实",
    "预约的上门服务没有按时到达",
    "电话联系不上签约医生",
    "签约时未说明个性化服务包收费",
)
COMPLAINT_CHANNELS = ("12345市民热线", "电话投诉", "现场投诉", "微信公众号", "院长信箱")
TERMINATION_REASONS = ("居民本人申请解约", "长期外出务工，无法履约", "对服务不满意，申请解约")
SALT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
