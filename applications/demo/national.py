"""A national-scale synthetic campaign, for load tests and dashboards (domain.md §10).

``seed_national()`` builds on the small demo (``seed_small()``: campaign 2023, its 18 regional
calls and the national call, DUI solutions, accounts) and adds, deterministically for a seed:

- about 8 000 gestionnaires (FINESS EJ, SIREN) and 40 000 establishments (FINESS ET, SIRET),
  all with valid keys, spread over every region by weight and with the real category mix
  (EHPAD, home care, disability, child welfare, AHI…; 3 % are not ESSMS);
- grappes of 15 to 49 ESSMS on the regional calls (8 to 49 in Corsica and overseas) and of 50
  to 80 on the national call, built around a porteur and completed by other gestionnaires of
  the region; about 8 % of the ESSMS stay isolated. With 40 000 establishments this gives
  about 1 900 grappes: grappes of at least 15 ESSMS cannot be 2 500 without grouping more
  ESSMS than the country has;
- one application per grappe, spread over every status of ``applications.workflow`` with
  consistent dates, a hash-chained ``WorkflowLog`` per application (the path through the
  transition table, by the right actors, with the recorded acts the services log: assignment
  after the take, score and proposal edit before each proposal), reviews and proposed amounts
  once a decision was proposed, and the calls' envelopes raised to cover what was accepted.

The logs obey the workflow's rules, four eyes included (``workflow.instructed_since_submission``):
the region's instructeur takes, scores, edits the proposal, asks for complements and proposes;
its valideur accepts or rejects; a second valideur (``valideur2-<région>``) sends back, so that
whoever sent back never decides. On the national call ``cnsa@demo.esms.fr`` instructs,
``cnsa2@demo.esms.fr`` decides and ``cnsa-validation@…`` sends back. The rows are written in bulk
(not through ``workflow.transition``, which would take minutes), hashed as it would hash them.

Decisions (numbered PDF letters) are not generated: issue them through the normal service.
Everything is bulk-inserted in one transaction; a second run does nothing.
"""

from __future__ import annotations

import datetime
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.hashers import make_password
from django.db import transaction
from tqdm import tqdm

from essms_portal.accounts.models import Role, User
from essms_portal.identifiers import siren_with_key, siret_with_key
from grappes.demo import synthetic
from grappes.models import (
    DuiSolution,
    FinessCategory,
    Grappe,
    GrappeMembership,
    GrappeOrganisation,
    Organisation,
    OrganisationMember,
    ProjectType,
    Region,
    Structure,
)

from ..instruction.services import review_comment, score_out_of_100
from ..models import (
    Application,
    Call,
    Campaign,
    ProposedAmount,
    Review,
    ReviewScore,
    ScoringCriterion,
    WorkflowLog,
)
from ..workflow import GENESIS_HASH, RECORDS, TRANSITIONS, Action, Status, entry_digest
from .simple import DEMO_PASSWORD, DEMO_TOTP_SECRET, DEMO_YEAR, seed_small

EMAIL_DOMAIN = "national.demo.esms.fr"
BATCH = 2_000
# FINESS sequences per département start here: far from the small demo's numbers (below 200)
# and from the test factories' (100 000 and above).
FIRST_SEQUENCE = 20_000
ESSMS_SHARE = 0.97
GROUPED_SHARE = 0.92
NATIONAL_SHARE = 0.04
NOT_ESSMS_CATEGORIES = {"355": 5, "362": 3, "106": 2, "124": 1}
FAMILY_WEIGHTS = {
    "personnes âgées": 45,
    "handicap": 30,
    "enfance": 12,
    "inclusion": 10,
    "protection juridique": 3,
}
STATUS_WEIGHTS = {
    Status.DRAFT: 14,
    Status.SUBMITTED: 14,
    Status.IN_REVIEW: 18,
    Status.COMPLEMENT_REQUESTED: 8,
    Status.PROPOSED: 10,
    Status.ACCEPTED: 12,
    Status.REJECTED: 5,
    Status.NOTIFIED: 14,
    Status.WITHDRAWN: 5,
}
EXTRA_SOLUTIONS = (
    ("Editeur Delta", "Delta Médico-social"),
    ("Editeur Epsilon", "Epsilon Handicap"),
    ("Editeur Zêta", "Zêta Domicile"),
)
CAMPAIGN_START = datetime.datetime(DEMO_YEAR, 1, 20, 9, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class NationalSummary:
    """What the national seeding created (``created`` is False when it was already there)."""

    created: bool
    organisations: int = 0
    structures: int = 0
    grappes: int = 0
    memberships: int = 0
    applications: int = 0
    log_entries: int = 0
    reviews: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Org:
    finess: str
    siren: str
    name: str
    department: str
    region: str
    family: str
    pk: int = 0
    user: User | None = None


@dataclass
class _Structure:
    finess: str
    org: _Org
    category: str
    department: str
    region: str
    eligible: bool
    home_care: bool
    pk: int = 0


@dataclass
class _Grappe:
    region: str
    porteur: _Org
    members: list[_Structure]
    pk: int = 0

    @property
    def national(self) -> bool:
        return len(self.members) >= 50


# (action, from status, to status, actor, when)
_Step = tuple[str, str, str, User, datetime.datetime]
REVIEW_COMMENT = "Dossier complet."
MOTIVATION = "Projet complet et cohérent."
RECOMMENDATION_LABELS = {"accept": "accepter", "reject": "refuser"}


@dataclass
class _Actors:
    """Who acts on a dossier, by region ("national" for the national call): the instructeur,
    the valideur who decides and another who sends back (four eyes: never the same)."""

    instructeurs: dict[str, User]
    valideurs: dict[str, User]
    senders: dict[str, User]
    notifier: User


def seed_national(
    *,
    seed: int = 2023,
    progress: bool = False,
    structures: int = 40_000,
    organisations: int | None = None,
) -> NationalSummary:
    """Load the national dataset on top of the small demo; a second run creates nothing."""
    started = time.perf_counter()
    seed_small()
    if User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").exists():
        return NationalSummary(created=False)
    builder = _Builder(
        rng=random.Random(seed),  # noqa: S311 - synthetic data, not security
        structures=structures,
        organisations=organisations or max(1, structures // 5),
    )
    steps = (
        builder.plan_referential,
        builder.save_organisations,
        builder.save_structures,
        builder.plan_grappes,
        builder.save_accounts,
        builder.save_grappes,
        builder.save_applications,
        builder.save_instruction,
    )
    with (
        transaction.atomic(),
        tqdm(total=len(steps), desc="Jeu national", disable=not progress, unit="étape") as bar,
    ):
        for step in steps:
            bar.set_postfix_str(step.__name__)
            step()
            bar.update()
    return NationalSummary(
        created=True,
        organisations=len(builder.orgs),
        structures=len(builder.structures),
        grappes=len(builder.grappes),
        memberships=sum(len(g.members) for g in builder.grappes),
        applications=len(builder.applications),
        log_entries=builder.log_entries,
        reviews=builder.reviews,
        statuses=dict(Counter(str(a.status) for a in builder.applications)),
        seconds=time.perf_counter() - started,
    )


def _split(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` split by ``weights`` into integers that add up (largest remainders)."""
    scale = sum(weights.values())
    exact = {key: total * weight / scale for key, weight in weights.items()}
    counts = {key: math.floor(value) for key, value in exact.items()}
    by_remainder = sorted(exact, key=lambda key: exact[key] - counts[key], reverse=True)
    for key in by_remainder[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


class _Builder:
    """Builds the dataset step by step; each ``save_*`` step bulk-inserts one kind of row."""

    def __init__(self, *, rng: random.Random, structures: int, organisations: int) -> None:
        self.rng = rng
        self.structure_count = structures
        self.organisation_count = organisations
        self.sequences: dict[str, int] = defaultdict(lambda: FIRST_SEQUENCE)
        self.orgs: list[_Org] = []
        self.structures: list[_Structure] = []
        self.grappes: list[_Grappe] = []
        self.applications: list[Application] = []
        self.log_entries = 0
        self.reviews = 0
        self.campaign = Campaign.objects.get(year=DEMO_YEAR)
        self.regions = {r.code: r for r in Region.objects.all()}
        self.departments: dict[str, list[str]] = defaultdict(list)
        for region in self.regions.values():
            self.departments[region.code] = sorted(
                region.departements.values_list("code", flat=True)
            )
        self.categories = {c.code: c for c in FinessCategory.objects.all()}

    # --- Referential -----------------------------------------------------------------------

    def _finess(self, department: str) -> str:
        self.sequences[department] += 1
        return synthetic.finess_number(department, self.sequences[department], self.rng)

    def _category(self, family: str) -> str:
        if self.rng.random() >= ESSMS_SHARE:
            codes, weights = zip(*NOT_ESSMS_CATEGORIES.items(), strict=True)
        else:
            codes = synthetic.CATEGORY_FAMILIES[family]
            weights = tuple(synthetic.ESSMS_CATEGORY_WEIGHTS[code] for code in codes)
        return self.rng.choices(codes, weights=weights)[0]

    def plan_referential(self) -> None:
        """Gestionnaires and their establishments, region by region (nothing saved yet)."""
        rng = self.rng
        per_region = _split(self.structure_count, dict(synthetic.REGION_WEIGHTS))
        orgs_per_region = _split(self.organisation_count, dict(synthetic.REGION_WEIGHTS))
        families, family_weights = zip(*FAMILY_WEIGHTS.items(), strict=True)
        for region, count in per_region.items():
            if not count:
                continue
            n_orgs = max(1, min(count, orgs_per_region[region]))
            departments = self.departments[region]
            orgs = []
            for _ in range(n_orgs):
                department = rng.choice(departments)
                self.orgs.append(
                    org := _Org(
                        finess=self._finess(department),
                        siren=siren_with_key(f"{40_000_000 + len(self.orgs):08d}"),
                        name=f"{synthetic.organisation_name(rng)} ({department})",
                        department=department,
                        region=region,
                        family=rng.choices(families, weights=family_weights)[0],
                    )
                )
                orgs.append(org)
            # Every gestionnaire runs one establishment; the others go to a heavy tail of
            # large ones (capped weights: the biggest run a few hundred).
            weights = [min(rng.paretovariate(1.2), 60.0) for _ in orgs]
            sizes = Counter(rng.choices(range(len(orgs)), weights=weights, k=count - len(orgs)))
            for index, org in enumerate(orgs):
                for _ in range(1 + sizes[index]):
                    department = org.department if rng.random() < 0.8 else rng.choice(departments)
                    category = self._category(org.family)
                    row = self.categories[category]
                    self.structures.append(
                        _Structure(
                            finess=self._finess(department),
                            org=org,
                            category=category,
                            department=department,
                            region=region,
                            eligible=row.casf_item_id is not None,
                            home_care=row.home_care,
                        )
                    )

    def save_organisations(self) -> None:
        created = Organisation.objects.bulk_create(
            (
                Organisation(
                    finess=o.finess, siren=o.siren, name=o.name, departement_id=o.department
                )
                for o in self.orgs
            ),
            batch_size=BATCH,
        )
        for org, row in zip(self.orgs, created, strict=True):
            org.pk = row.pk

    def _postcode(self, department: str) -> str:
        """A postcode of the département (Corsica's start with 20, overseas' with 97x)."""
        prefix = "20" if department in ("2A", "2B") else department
        return f"{prefix}{self.rng.randrange(0, 1000):03d}"[:5]

    def save_structures(self) -> None:
        rng = self.rng
        nic: Counter[str] = Counter()
        rows = []
        for s in self.structures:
            nic[s.org.siren] += 1
            category = self.categories[s.category]
            rows.append(
                Structure(
                    finess=s.finess,
                    organisation_id=s.org.pk,
                    siret=siret_with_key(f"{s.org.siren}{nic[s.org.siren]:04d}"),
                    name=synthetic.establishment_name(s.category, rng),
                    category=category,
                    category_code=s.category,
                    departement_id=s.department,
                    address=f"{rng.randint(1, 200)} {rng.choice(synthetic.STREET_TYPES)} "
                    f"{rng.choice(synthetic.STREET_NAMES)}",
                    postal_line=f"{self._postcode(s.department)} {rng.choice(synthetic.COMMUNES)}",
                    capacity=rng.randint(8, 140),
                    eligible=s.eligible,
                    opened_on=datetime.date(1965, 1, 1)
                    + datetime.timedelta(days=rng.randrange(21_000)),
                )
            )
        created = Structure.objects.bulk_create(rows, batch_size=BATCH)
        for structure, row in zip(self.structures, created, strict=True):
            structure.pk = row.pk

    # --- Grappes ---------------------------------------------------------------------------

    def _size(self, reduced: bool, force_national: bool) -> int:
        """A grappe size: mostly just above the minimum, a few national ones (50 to 80)."""
        if force_national or (not reduced and self.rng.random() < NATIONAL_SHARE):
            return self.rng.randint(50, 80)
        minimum = self.campaign.reduced_min_essms if reduced else self.campaign.regional_min_essms
        size = minimum + int(self.rng.expovariate(1 / 5))
        return min(size, self.campaign.regional_max_essms)

    def plan_grappes(self) -> None:
        """Grappes region by region: a porteur's ESSMS completed by other gestionnaires'."""
        rng = self.rng
        biggest = max(synthetic.REGION_WEIGHTS, key=lambda code: synthetic.REGION_WEIGHTS[code])
        by_region: dict[str, dict[int, list[_Structure]]] = defaultdict(lambda: defaultdict(list))
        for s in self.structures:
            if s.eligible:
                by_region[s.region][id(s.org)].append(s)
        orgs_by_id = {id(o): o for o in self.orgs}
        for region, pools in by_region.items():
            for pool in pools.values():
                rng.shuffle(pool)
            reduced = self.regions[region].reduced_grappe_minimum
            minimum = (
                self.campaign.reduced_min_essms if reduced else self.campaign.regional_min_essms
            )
            available = sum(len(pool) for pool in pools.values())
            target = int(available * GROUPED_SHARE)
            grouped = 0
            open_orgs = [key for key, pool in pools.items() if pool]
            # The biggest region always has a national-call grappe, even at reduced scale.
            force_national = region == biggest and available >= 60
            while grouped + minimum <= target:
                size = min(self._size(reduced, force_national), target - grouped)
                force_national = False
                if size < minimum:
                    break
                porteur_key = rng.choices(open_orgs, weights=[len(pools[k]) for k in open_orgs])[0]
                members = self._take(pools[porteur_key], max(1, int(size * rng.uniform(0.3, 1))))
                while len(members) < size:
                    other = rng.choice([k for k in open_orgs if pools[k]] or [porteur_key])
                    members += self._take(pools[other], min(rng.randint(1, 6), size - len(members)))
                open_orgs = [k for k in open_orgs if pools[k]]
                grouped += len(members)
                self.grappes.append(_Grappe(region, orgs_by_id[porteur_key], members))

    @staticmethod
    def _take(pool: list[_Structure], count: int) -> list[_Structure]:
        taken = pool[-count:] if count else []
        del pool[len(pool) - len(taken) :]
        return taken

    # --- Accounts --------------------------------------------------------------------------

    def save_accounts(self) -> None:
        """A porteur account per porteur organisation, ARS agents per region, a 2nd CNSA agent."""
        self.password = make_password(DEMO_PASSWORD)  # one hash for all: demo accounts only
        porteurs = {id(g.porteur): g.porteur for g in self.grappes}
        users = User.objects.bulk_create(
            (
                User(
                    email=f"porteur-{org.finess.lower()}@{EMAIL_DOMAIN}",
                    role=Role.GESTIONNAIRE,
                    title="Directeur, gestionnaire porteur",
                    password=self.password,
                )
                for org in porteurs.values()
            ),
            batch_size=BATCH,
        )
        now = datetime.datetime.now(tz=datetime.UTC)
        members = []
        for org, user in zip(porteurs.values(), users, strict=True):
            org.user = user
            members.append(
                OrganisationMember(
                    organisation_id=org.pk,
                    user=user,
                    status=OrganisationMember.Status.CONFIRMED,
                    confirmed_at=now,
                )
            )
        OrganisationMember.objects.bulk_create(members, batch_size=BATCH)
        instructeurs, valideurs, senders = {}, {}, {}
        for code in self.regions:
            instructeurs[code] = self._agent(f"instructeur-{code}", Role.ARS_INSTRUCTEUR, code)
            valideurs[code] = self._agent(f"valideur-{code}", Role.ARS_VALIDEUR, code)
            senders[code] = self._agent(f"valideur2-{code}", Role.ARS_VALIDEUR, code)
        notifier = User.objects.get(email="cnsa@demo.esms.fr")
        instructeurs["national"] = notifier
        valideurs["national"] = User.objects.get(email="cnsa2@demo.esms.fr")
        senders["national"] = self._agent("cnsa-validation", Role.CNSA_AGENT, None)
        self.actors = _Actors(instructeurs, valideurs, senders, notifier)
        EmailAddress.objects.bulk_create(
            (EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users),
            batch_size=BATCH,
        )

    def _agent(self, name: str, role: str, region: str | None) -> User:
        """An agent account with the demo password (hashed once: PBKDF2 per user is slow)."""
        user, created = User.objects.get_or_create(
            email=f"{name}@{EMAIL_DOMAIN}",
            defaults={
                "role": role,
                "region_id": region,
                "title": "Agent (démonstration)",
                "password": self.password,
            },
        )
        if created:
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
            TOTP.activate(user, DEMO_TOTP_SECRET)  # MFA is mandatory for agents
        return user

    # --- Grappes and applications ----------------------------------------------------------

    def save_grappes(self) -> None:
        rng = self.rng
        solutions = list(DuiSolution.objects.filter(segur_referenced=True))
        for editor, product in EXTRA_SOLUTIONS:
            solution, _ = DuiSolution.objects.get_or_create(
                editor=editor,
                product=product,
                defaults={"segur_referenced": True, "segur_reference": f"SONS-{editor[-5:]}"},
            )
            solutions.append(solution)
        created = Grappe.objects.bulk_create(
            (
                Grappe(
                    name=f"Grappe {index + 1:04d} — {self.regions[g.region].name}",
                    porteur_id=g.porteur.pk,
                    description="Déploiement d'un DUI commun (jeu de démonstration national).",
                    created_by=g.porteur.user,
                )
                for index, g in enumerate(self.grappes)
            ),
            batch_size=BATCH,
        )
        for grappe, row in zip(self.grappes, created, strict=True):
            grappe.pk = row.pk
        self.solutions = solutions
        memberships = []
        for g in self.grappes:
            solution = rng.choice(solutions)
            for s in g.members:
                share = Decimal(1)
                if s.home_care:
                    share = Decimal(rng.randint(40, 100)) / 100
                memberships.append(
                    GrappeMembership(
                        grappe_id=g.pk,
                        structure_id=s.pk,
                        project_type=ProjectType.UPGRADE
                        if rng.random() < 0.3
                        else ProjectType.ACQUISITION,
                        solution=solution,
                        eligible_share=share,
                    )
                )
        GrappeMembership.objects.bulk_create(memberships, batch_size=BATCH)
        self.memberships = memberships

    def _statuses(self) -> list[str]:
        """One status per grappe: each status at least once, then by weight, shuffled."""
        statuses: list[str] = [str(s) for s in STATUS_WEIGHTS][: len(self.grappes)]
        statuses += self.rng.choices(
            list(STATUS_WEIGHTS),
            weights=list(STATUS_WEIGHTS.values()),
            k=len(self.grappes) - len(statuses),
        )
        self.rng.shuffle(statuses)
        return statuses

    def _path(self, status: str) -> list[str]:
        """Actions that lead a draft to ``status`` through the transition table, with the acts
        the services record on the way (assignment, score, proposal edits)."""
        rng = self.rng
        review: list[str] = [Action.SUBMIT, Action.TAKE, Action.ASSIGN]
        if rng.random() < 0.25:
            review += [Action.ASK_COMPLEMENT, Action.RESUBMIT]
        proposal = [*review, Action.SCORE, Action.EDIT_PROPOSAL, Action.PROPOSE]
        if rng.random() < 0.1:
            proposal += [Action.SEND_BACK, Action.EDIT_PROPOSAL, Action.PROPOSE]
        decision = rng.choice([Action.ACCEPT, Action.ACCEPT, Action.ACCEPT, Action.REJECT])
        paths: dict[str, list[str]] = {
            Status.DRAFT: [],
            Status.WITHDRAWN: rng.choice([[Action.WITHDRAW], [Action.SUBMIT, Action.WITHDRAW]]),
            Status.SUBMITTED: [Action.SUBMIT],
            Status.IN_REVIEW: review,
            Status.COMPLEMENT_REQUESTED: [
                Action.SUBMIT,
                Action.TAKE,
                Action.ASSIGN,
                Action.ASK_COMPLEMENT,
            ],
            Status.PROPOSED: proposal,
            Status.ACCEPTED: [*proposal, Action.ACCEPT],
            Status.REJECTED: [*proposal, Action.REJECT],
            Status.NOTIFIED: [*proposal, decision, Action.NOTIFY],
        }
        return paths[status]

    def _instructeur(self, grappe: _Grappe) -> User:
        return self.actors.instructeurs["national" if grappe.national else grappe.region]

    def _actor(self, action: str, grappe: _Grappe) -> User:
        scope = "national" if grappe.national else grappe.region
        if action in (Action.SUBMIT, Action.RESUBMIT, Action.WITHDRAW):
            assert grappe.porteur.user is not None
            return grappe.porteur.user
        if action == Action.NOTIFY:
            return self.actors.notifier
        if action == Action.SEND_BACK:
            return self.actors.senders[scope]
        if action in (Action.ACCEPT, Action.REJECT):
            return self.actors.valideurs[scope]
        return self.actors.instructeurs[scope]

    def save_applications(self) -> None:
        """One dossier per grappe, its status reached through a logged path of transitions."""
        rng = self.rng
        calls = {c.region_id or "national": c for c in Call.objects.filter(campaign=self.campaign)}
        self.plans: list[tuple[_Grappe, list[_Step], datetime.datetime]] = []
        for grappe, status in zip(self.grappes, self._statuses(), strict=True):
            moment = CAMPAIGN_START + datetime.timedelta(
                days=rng.randint(0, 100), minutes=rng.randint(0, 8 * 60)
            )
            created_at = moment
            steps: list[_Step] = []
            current: str = Status.DRAFT
            for action in self._path(status):
                if action in RECORDS:  # a recorded act: same status, soon after the last step
                    assert current in RECORDS[action][0], (current, action)
                    moment += datetime.timedelta(
                        hours=rng.randint(1, 72), minutes=rng.randint(1, 59)
                    )
                    target = current
                else:
                    moment += datetime.timedelta(
                        days=rng.randint(2, 30), minutes=rng.randint(1, 600)
                    )
                    target = TRANSITIONS[(current, action)][0]
                steps.append((action, current, target, self._actor(action, grappe), moment))
                current = target
            assert current == status, (status, steps)
            # transition() bumps the version, and so does proposal_save (the proposal form's
            # version); record() alone (score, assignment) does not.
            bumps = sum(1 for s in steps if s[0] not in RECORDS or s[0] == Action.EDIT_PROPOSAL)
            submitted = next((s[4] for s in steps if s[0] == Action.SUBMIT), None)
            decided = [s[4] for s in steps if s[0] in (Action.ACCEPT, Action.REJECT)]
            took = any(s[0] == Action.TAKE for s in steps)
            recommendation = ""
            if any(s[0] == Action.PROPOSE for s in steps):
                recommendation = "reject" if any(s[0] == Action.REJECT for s in steps) else "accept"
            self.applications.append(
                Application(
                    grappe_id=grappe.pk,
                    call=calls["national" if grappe.national else grappe.region],
                    status=status,
                    version=1 + bumps,
                    requested_procurement=Decimal(rng.choice([0, 8_000, 12_000, 15_000])),
                    requested_steering=Decimal(rng.randrange(20_000, 100_001, 5_000)),
                    justification="AMOA mutualisée et marché commun (démonstration).",
                    assignee=self._instructeur(grappe) if took else None,
                    recommendation=recommendation,
                    motivation=MOTIVATION if recommendation else "",
                    created_by=grappe.porteur.user,
                    submitted_at=submitted,
                    decided_at=decided[-1] if decided else None,
                )
            )
            self.plans.append((grappe, steps, created_at))
        Application.objects.bulk_create(self.applications, batch_size=BATCH)
        # auto_now(_add) stamped every row with the insertion time: put the planned dates back.
        for application, (_, steps, created_at) in zip(self.applications, self.plans, strict=True):
            application.created_at = created_at
            application.updated_at = steps[-1][4] if steps else created_at
        Application.objects.bulk_update(
            self.applications, ["created_at", "updated_at"], batch_size=500
        )
        self._save_participations()
        self._plan_instruction()
        self._save_logs()

    def _save_participations(self) -> None:
        """Every gestionnaire of a grappe takes part; drafts may still wait for confirmations."""
        rows = []
        for application, (grappe, _, _) in zip(self.applications, self.plans, strict=True):
            orgs = {id(s.org): s.org for s in grappe.members}
            orgs[id(grappe.porteur)] = grappe.porteur
            for org in orgs.values():
                pending = (
                    application.status == Status.DRAFT
                    and org is not grappe.porteur
                    and self.rng.random() < 0.3
                )
                rows.append(
                    GrappeOrganisation(
                        grappe_id=grappe.pk,
                        organisation_id=org.pk,
                        confirmed_at=None if pending else application.created_at,
                        confirmed_by=None if pending else grappe.porteur.user,
                    )
                )
        GrappeOrganisation.objects.bulk_create(rows, batch_size=BATCH)

    def _save_logs(self) -> None:
        """The hash chain of each dossier, exactly as ``workflow.transition`` and
        ``workflow.record`` would write it (the recorded acts with the services' comments)."""
        rows = []
        for application, (_, steps, _) in zip(self.applications, self.plans, strict=True):
            previous = GENESIS_HASH
            comments = self.comments.get(application.pk, {})
            for action, source, target, actor, moment in steps:
                comment = (
                    f"Dossier affecté à {actor.email}"
                    if action == Action.ASSIGN
                    else comments.get(action, "")
                )
                digest = entry_digest(
                    application_id=application.pk,
                    action=action,
                    from_status=source,
                    to_status=target,
                    actor_id=actor.pk,
                    actor_email=actor.email,
                    comment=comment,
                    created_at=moment.isoformat(),
                    previous_hash=previous,
                )
                rows.append(
                    WorkflowLog(
                        application_id=application.pk,
                        action=action,
                        from_status=source,
                        to_status=target,
                        actor=actor,
                        actor_email=actor.email,
                        comment=comment,
                        created_at=moment,
                        previous_hash=previous,
                        entry_hash=digest,
                    )
                )
                previous = digest
        WorkflowLog.objects.bulk_create(rows, batch_size=BATCH)
        self.log_entries = len(rows)

    # --- Instruction -----------------------------------------------------------------------

    def _plan_instruction(self) -> None:
        """Marks and proposed amounts of every dossier whose decision was proposed, and the
        comments of its score and proposal-edit entries (as ``services.review_save`` and
        ``services.proposal_save`` word them)."""
        rng = self.rng
        criteria: dict[int, list[ScoringCriterion]] = defaultdict(list)
        for criterion in ScoringCriterion.objects.filter(call__campaign=self.campaign):
            criteria[criterion.call_id].append(criterion)
        memberships: dict[int, list[GrappeMembership]] = defaultdict(list)
        for membership in self.memberships:
            memberships[membership.grappe_id].append(membership)
        finess_of = {s.pk: s.finess for s in self.structures}
        self.instruction: list[
            tuple[Application, _Grappe, dict[ScoringCriterion, int], list[ProposedAmount]]
        ] = []
        self.comments: dict[int, dict[str, str]] = {}
        for application, (grappe, steps, _) in zip(self.applications, self.plans, strict=True):
            if not any(s[0] == Action.PROPOSE for s in steps):
                continue
            marks = {c: rng.randint(2, 5) for c in criteria[application.call_id]}
            amounts = self._amounts(application, memberships[grappe.pk], finess_of)
            self.instruction.append((application, grappe, marks, amounts))
            proposed = int(sum(a.proposed for a in amounts))
            computed = int(sum(a.computed for a in amounts))
            label = RECOMMENDATION_LABELS[application.recommendation]
            self.comments[application.pk] = {
                Action.SCORE: review_comment(marks, REVIEW_COMMENT),
                Action.EDIT_PROPOSAL: f"Montant proposé : {proposed} € (calculé : {computed} €) "
                f"— recommandation : {label}\nMotivation : {MOTIVATION}",
            }

    def save_instruction(self) -> None:
        """Reviews and proposed amounts of every dossier whose decision was proposed."""
        reviews, amounts, marks_of = [], [], []
        for application, grappe, marks, rows in self.instruction:
            reviews.append(
                Review(
                    application_id=application.pk,
                    reviewer=self._instructeur(grappe),
                    comment=REVIEW_COMMENT,
                    score=score_out_of_100(marks),
                )
            )
            marks_of.append(marks)
            amounts += rows
        created = Review.objects.bulk_create(reviews, batch_size=BATCH)
        ReviewScore.objects.bulk_create(
            (
                ReviewScore(review_id=review.pk, criterion=criterion, value=value)
                for review, marks in zip(created, marks_of, strict=True)
                for criterion, value in marks.items()
            ),
            batch_size=BATCH,
        )
        ProposedAmount.objects.bulk_create(amounts, batch_size=BATCH)
        self.reviews = len(created)
        self._raise_envelopes()

    def _amounts(
        self,
        application: Application,
        members: list[GrappeMembership],
        finess_of: dict[int, str],
    ) -> list[ProposedAmount]:
        """Proposed = computed: forfait times eligible share per ESSMS, capped supports."""
        campaign = self.campaign
        rows = []
        for membership in members:
            acquisition = membership.project_type == ProjectType.ACQUISITION
            forfait = campaign.acquisition_amount if acquisition else campaign.upgrade_amount
            amount = (Decimal(forfait) * membership.eligible_share).quantize(
                Decimal(1), rounding=ROUND_DOWN
            )
            finess = finess_of[membership.structure_id]
            rows.append(
                ProposedAmount(
                    application_id=application.pk,
                    line=f"structure:{finess}",
                    label=f"ESSMS {finess} — {ProjectType(membership.project_type).label}",
                    computed=amount,
                    proposed=amount,
                )
            )
        for line, label, requested, cap in (
            ("procurement", "Passation du marché", application.requested_procurement,
             campaign.procurement_cap),
            ("steering", "Pilotage", application.requested_steering, campaign.steering_cap),
        ):  # fmt: skip
            amount = min(Decimal(requested), Decimal(cap))
            rows.append(
                ProposedAmount(
                    application_id=application.pk,
                    line=line,
                    label=label,
                    computed=amount,
                    proposed=amount,
                )
            )
        return rows

    def _raise_envelopes(self) -> None:
        """Give each call an envelope that covers what it accepted, plus 10 %."""
        from django.db.models import Sum

        accepted = (
            ProposedAmount.objects.filter(
                application__call__campaign=self.campaign,
                application__decided_at__isnull=False,
                application__recommendation="accept",
            )
            .values("application__call")
            .annotate(total=Sum("proposed"))
        )
        for row in accepted:
            needed = (
                Decimal(row["total"]) * Decimal("1.1") / 100_000
            ).to_integral_value() * 100_000
            Call.objects.filter(pk=row["application__call"], envelope__lt=needed).update(
                envelope=needed
            )
