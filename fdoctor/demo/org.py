"""The organisation tree (city, pools, counties, institutions, stations, teams), its users and
the teams' drawn capabilities."""

from __future__ import annotations

from fdoctor.core.roles import Role
from fdoctor.demo.drawing import DrawingBase
from fdoctor.demo.entities import Place, Team, Traits
from fdoctor.demo.settings import Row
from fdoctor.demo.vocabulary import CN_NUM, ROADS, county_specs


def clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


class OrgSteps(DrawingBase):
    """Builds the organisation tree and its users."""

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

    def traits(self, rural: bool) -> Traits:
        rng = self.rng
        z = rng.random()  # the team's overall capability; each trait adds its own noise

        def jitter(value: float, lo: float, hi: float) -> float:
            return round(clamp(value + rng.uniform(-0.05, 0.05), lo, hi), 4)

        return Traits(
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
        for spec in county_specs(self.spec.counties):
            county = self.unit(
                spec.region,
                spec.name,
                "county",
                spec.subtype,
                pools[spec.pool],
                region_code=spec.region,
            )
            county_place = Place(
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
                institution = Place(
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

    def build_institution(self, institution: Place, inst: Row, county: Row) -> None:
        rng, spec = self.rng, institution.county
        stations: list[Place] = []
        station_rows: dict[int, Row] = {}
        for j in range(rng.randint(*self.spec.stations)):
            if spec.urban:
                home = self.unique_name(lambda: rng.choice(ROADS) + "社区")
                name, subtype = f"{institution.short}{home}卫生服务站", "community_station"
            else:
                home = self.village_name()
                name, subtype = f"{institution.short}{home}卫生室", "village_clinic"
            code = f"{institution.code}-S{j + 1}"
            row = self.unit(code, name, "station", subtype, inst, county["id"], inst["id"])
            station_rows[row["id"]] = row
            station = Place(row["id"], code, name, home, spec, county["id"], inst["id"], home)
            stations.append(station)
            self.stations.append(station)
        n_teams = min(rng.randint(*self.spec.teams), len(stations) + 1)
        for k in range(n_teams):
            # The first team works from the centre itself; the others from a station each.
            base: Place | None = stations[k - 1] if k >= 1 else None
            parent = station_rows[base.id] if base else inst
            code = f"{institution.code}-T{k + 1}"
            if base:
                name = f"{base.name.removesuffix('卫生室').removesuffix('卫生服务站')}家庭医生团队"
            else:
                name = f"{institution.short}家庭医生第{CN_NUM[k]}团队"
            row = self.unit(code, name, "team", None, parent, county["id"], inst["id"])
            rural = not spec.urban
            team = Team(
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

    def staff_team(self, team: Team, at_station: bool) -> None:
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
