"""Assessment pages (考核), one module per job, all on the one ``assessments`` blueprint.

``listing`` the list, opening and notifications; ``assessment`` one assessment's page and its
workflow buttons (scoring, appeals, corrections); ``rectifications``; ``records`` the drill-down
behind an indicator; ``sheets`` the printable assessment sheet; ``l4`` the city spot check;
``dashboards``; ``workload`` the county workload reports. Their queries are in
``fdoctor.assessments.reads``, the dashboards' and the workload table's in
``fdoctor.assessments.dashboards``, the assessment sheet's in ``fdoctor.assessments.sheet``.
"""

from fdoctor.assessments.views import (  # noqa: F401  (each registers its routes on ``bp``)
    assessment,
    dashboards,
    l4,
    listing,
    records,
    rectifications,
    sheets,
    workload,
)
from fdoctor.assessments.views.blueprint import bp

__all__ = ["bp"]
