"""Every model, imported in one place so Alembic and the app see the whole metadata."""

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember, ContractPackage, ServicePackage
from fdoctor.households.models import Household, Pregnancy, Resident
from fdoctor.org.models import GridCell, OrgUnit, PopulationFigure
from fdoctor.services.models import ServiceRecord
from fdoctor.surveys.models import (
    Complaint,
    SurveyRecordCheck,
    SurveyResponse,
    VerificationSample,
    VerificationSampleItem,
)

__all__ = [
    "Complaint",
    "Contract",
    "ContractMember",
    "ContractPackage",
    "GridCell",
    "Household",
    "OrgUnit",
    "PopulationFigure",
    "Pregnancy",
    "Resident",
    "ServicePackage",
    "ServiceRecord",
    "SurveyRecordCheck",
    "SurveyResponse",
    "User",
    "VerificationSample",
    "VerificationSampleItem",
]
