"""The family-doctor service agreement (家庭医生签约服务协议书) as a PDF.

Two copies in one file, one per page group: 第一联 居民留存联 (kept by the resident) and 第二联
机构留存联 (kept by the institution), each with the parties, members (IDs masked), packages and
fees, term, service content, rights and duties, and signature lines for both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from io import BytesIO

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from assessments.money import yuan
from fdoctor.reports.pdf import cjk_font, grid_table, paragraph, styles
from fdoctor.reports.qr import qr_drawing

COPIES = ("第一联 居民留存联", "第二联 机构留存联")

SERVICE_CONTENT = (
    "基本医疗服务：常见病、多发病的诊疗，合理用药指导，就医路径指导和预约转诊。",
    "基本公共卫生服务：建立健康档案，按国家基本公共卫生服务规范提供老年人、0-6岁儿童、孕产妇、"
    "高血压和2型糖尿病患者、严重精神障碍患者、肺结核患者等重点人群的健康管理和随访。",
    "健康管理：健康评估、健康教育和健康咨询，个性化服务包约定的其他服务。",
    "双向转诊：需要时协助转诊至上级医院，并接收下转患者的后续康复和随访。",
)
PROVIDER_DUTIES = (
    "按协议和服务规范为乙方提供签约服务，保护乙方个人信息和隐私；",
    "公布家庭医生团队联系方式，及时响应乙方的健康咨询和预约；",
    "如实记录服务情况，接受乙方和卫生健康行政部门的监督；",
    "有权了解乙方健康状况，对不遵守协议的情形提出改进意见或依约解约。",
)
RESIDENT_DUTIES = (
    "享受协议约定的各项服务，对服务质量提出意见和投诉；",
    "如实提供健康信息，配合家庭医生团队开展随访和健康管理；",
    "按约定交纳个性化服务包费用（基础服务包免费）；",
    "约定基层首诊的，除急诊外首先到签约机构就诊，需要时经家庭医生转诊。",
)


@dataclass(frozen=True)
class AgreementMember:
    name: str
    sex: str
    age: int
    masked_id: str
    tags: str


@dataclass(frozen=True)
class AgreementPackage:
    name: str
    kind: str
    unit_fee_fen: int  # per person per year
    fee_fen: int  # per year, all covered members
    description: str = ""


@dataclass(frozen=True)
class AgreementData:
    code: str
    institution: str
    team: str
    doctor: str
    household_code: str
    address: str
    signed_on: date
    start: date
    end: date
    years: int
    first_contact: bool
    members: list[AgreementMember] = field(default_factory=list)
    packages: list[AgreementPackage] = field(default_factory=list)
    doctor_phone: str = ""
    phone: str = ""
    # The resident's confirmation link (fdoctor.confirm), printed as a QR code on their copy.
    confirm_url: str = ""

    @property
    def yearly_fee_fen(self) -> int:
        return sum(p.fee_fen for p in self.packages)

    @property
    def total_fee_fen(self) -> int:
        return self.yearly_fee_fen * self.years


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _copy(data: AgreementData, label: str) -> list[object]:
    s = styles()
    flow: list[object] = [
        paragraph("家庭医生签约服务协议书", s["title"]),
        paragraph(f"{label}　　协议编号：{data.code}", s["subtitle"]),
        Spacer(1, 4 * mm),
        paragraph(f"甲方（签约机构）：{data.institution}　　家庭医生团队：{data.team}", s["base"]),
        paragraph(
            f"签约责任医生：{data.doctor}"
            + (f"　　联系电话：{data.doctor_phone}" if data.doctor_phone else ""),
            s["base"],
        ),
        paragraph(
            f"乙方（签约居民家庭）：户编号 {data.household_code}　　家庭地址：{data.address}"
            + (f"　　联系电话：{data.phone}" if data.phone else ""),
            s["base"],
        ),
        Spacer(1, 3 * mm),
        paragraph("一、签约成员", s["base"]),
    ]
    rows: list[list[object]] = [["序号", "姓名", "性别", "年龄", "身份证号", "人群类别"]]
    for i, m in enumerate(data.members, start=1):
        rows.append([str(i), m.name, m.sex, str(m.age), m.masked_id, paragraph(m.tags, s["cell"])])
    flow.append(grid_table(rows, [12 * mm, 24 * mm, 12 * mm, 12 * mm, 42 * mm, 68 * mm]))
    flow += [Spacer(1, 3 * mm), paragraph("二、服务包及费用", s["base"])]
    rows = [["服务包", "类型", "单价（元/人·年）", "年费用（元）", "服务内容"]]
    for p in data.packages:
        rows.append(
            [
                paragraph(p.name, s["cell"]),
                p.kind,
                yuan(p.unit_fee_fen),
                yuan(p.fee_fen),
                paragraph(p.description, s["cell"]),
            ]
        )
    rows.append(
        ["合计", "", "", yuan(data.yearly_fee_fen), f"服务期内共计 {yuan(data.total_fee_fen)} 元"]
    )
    flow.append(grid_table(rows, [34 * mm, 18 * mm, 26 * mm, 24 * mm, 68 * mm]))
    flow += [
        Spacer(1, 3 * mm),
        paragraph(
            f"三、服务期限：自 {_cn_date(data.start)} 起至 {_cn_date(data.end)} 止，共 {data.years} 年。"
            f"签约日期：{_cn_date(data.signed_on)}。",
            s["base"],
        ),
        paragraph(
            "四、基层首诊：乙方"
            + ("同意" if data.first_contact else "暂不约定")
            + "基层首诊（除急诊外首先到甲方就诊，需要时由家庭医生转诊）。",
            s["base"],
        ),
        paragraph("五、服务内容", s["base"]),
    ]
    flow += [paragraph(f"{i}. {text}", s["small"]) for i, text in enumerate(SERVICE_CONTENT, 1)]
    flow.append(paragraph("六、甲方的权利和义务", s["base"]))
    flow += [paragraph(f"{i}. {text}", s["small"]) for i, text in enumerate(PROVIDER_DUTIES, 1)]
    flow.append(paragraph("七、乙方的权利和义务", s["base"]))
    flow += [paragraph(f"{i}. {text}", s["small"]) for i, text in enumerate(RESIDENT_DUTIES, 1)]
    flow.append(
        paragraph(
            "八、其他：本协议一式两份，甲乙双方各执一份，经双方签字后生效。服务期满前一个月内"
            "双方可协商续约；任何一方要求解约的，应说明原因。",
            s["base"],
        )
    )
    flow.append(KeepTogether([Spacer(1, 6 * mm), _signatures()]))
    if data.confirm_url and label == COPIES[0]:
        flow.append(KeepTogether([Spacer(1, 4 * mm), _confirm_qr(data.confirm_url)]))
    return flow


def _confirm_qr(url: str) -> Table:
    """The resident's QR code: their visits to confirm or deny, and the service to rate."""
    s = styles()
    text = paragraph(
        "居民服务确认：请用手机扫描左侧二维码，核对家庭医生为您记录的服务（如未接受请选择"
        "“未接受”），并对服务进行评价。每季度可提交一次；本码在协议期满后 30 天内有效。",
        s["small"],
    )
    table = Table([[qr_drawing(url, 28 * mm), text]], colWidths=[32 * mm, 138 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return table


def _signatures() -> Table:
    s = styles()
    blank_date = "日期：______年____月____日"
    cells = [
        [
            paragraph("甲方家庭医生（签字）：________________", s["base"]),
            paragraph("乙方签约居民或代理人（签字）：________________", s["base"]),
        ],
        [paragraph("签约机构（盖章）", s["base"]), paragraph("", s["base"])],
        [paragraph(blank_date, s["base"]), paragraph(blank_date, s["base"])],
    ]
    table = Table(cells, colWidths=[85 * mm, 85 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), cjk_font(), 10),
                ("TOPPADDING", (0, 0), (-1, -1), 10),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ]
        )
    )
    return table


def build_agreement_pdf(data: AgreementData) -> bytes:
    """Both copies of the agreement, each starting on a new page."""
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"家庭医生签约服务协议书 {data.code}",
        author="fdoctor",
    )
    story: list[object] = []
    for i, label in enumerate(COPIES):
        if i:
            story.append(PageBreak())
        story += _copy(data, label)
    doc.build(story)
    return buffer.getvalue()
