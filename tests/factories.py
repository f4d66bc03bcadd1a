"""factory_boy factories for the portal's models (referential rows come from migrations)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP

from applications.models import Application, Attachment, Call, Campaign
from applications.workflow import REQUIRED_ATTACHMENTS
from essms_portal.accounts.models import Role, User
from essms_portal.accounts.security import is_agent
from essms_portal.identifiers import finess_with_key, siren_with_key
from grappes.models import (
    CasfCategory,
    Departement,
    DuiSolution,
    FinessCategory,
    Grappe,
    GrappeMembership,
    GrappeOrganisation,
    Organisation,
    OrganisationMember,
    Region,
    Structure,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.fr")
    role = Role.GESTIONNAIRE
    password = factory.PostGenerationMethodCall("set_password", "motdepasse-solide-2023")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    @factory.post_generation
    def mfa(obj, create, extracted, **kwargs):
        """Agents are enrolled in MFA (mandatory for them); ``mfa=False`` leaves one without."""
        if create and extracted is not False and is_agent(obj):
            mfa_enrolled(obj)


TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # base32, tests only


def mfa_enrolled(user: User, secret: str = TEST_TOTP_SECRET) -> User:
    """Give ``user`` an active TOTP authenticator (allauth.mfa), as after enrolment."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, secret)
    return user


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    finess = factory.Sequence(lambda n: finess_with_key(f"75{n + 500000:06d}"))
    siren = factory.Sequence(lambda n: siren_with_key(f"4{n + 1000000:07d}"))
    name = factory.Sequence(lambda n: f"Organisme gestionnaire {n}")
    departement = factory.LazyFunction(lambda: Departement.objects.get(code="75"))


def confirmed_member(user: User, organisation: Organisation) -> OrganisationMember:
    """Attach ``user`` to ``organisation`` as a confirmed member."""
    return OrganisationMember.objects.create(
        user=user,
        organisation=organisation,
        status=OrganisationMember.Status.CONFIRMED,
        confirmed_at=datetime.datetime.now(tz=datetime.UTC),
    )


def verified_email(user: User, email: str | None = None) -> EmailAddress:
    """Give ``user`` a verified address (allauth), as after clicking the confirmation link."""
    return EmailAddress.objects.create(
        user=user, email=email or user.email, verified=True, primary=email is None
    )


class StructureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Structure

    finess = factory.Sequence(lambda n: finess_with_key(f"75{n + 100000:06d}"))
    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"EHPAD n° {n}")
    category = factory.LazyFunction(lambda: FinessCategory.objects.get(code="500"))
    category_code = factory.LazyAttribute(lambda o: o.category.code if o.category else "")
    departement = factory.LazyFunction(lambda: Departement.objects.get(code="75"))
    eligible = factory.LazyAttribute(lambda o: bool(o.category and o.category.casf_item_id))


class DuiSolutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DuiSolution
        django_get_or_create = ("editor", "product")

    editor = "Editeur Ségur"
    product = "DUI référencé"
    segur_referenced = True


class GrappeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grappe
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Grappe {n}")
    porteur = factory.SubFactory(OrganisationFactory)

    @factory.post_generation
    def porteur_participation(obj, create, extracted, **kwargs):
        if create:
            GrappeOrganisation.objects.get_or_create(
                grappe=obj,
                organisation=obj.porteur,
                defaults={"confirmed_at": datetime.datetime.now(tz=datetime.UTC)},
            )


class GrappeMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GrappeMembership

    grappe = factory.SubFactory(GrappeFactory)
    structure = factory.SubFactory(
        StructureFactory, organisation=factory.SelfAttribute("..grappe.porteur")
    )
    project_type = "acquisition"
    solution = factory.SubFactory(DuiSolutionFactory)
    eligible_share = Decimal(1)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        django_get_or_create = ("year",)
        skip_postgeneration_save = True

    year = 2023
    name = factory.LazyAttribute(lambda o: f"Campagne {o.year}")

    @factory.post_generation
    def exempt(obj, create, extracted, **kwargs):
        if create:
            obj.segur_exempt_items.set(CasfCategory.objects.filter(segur_exempt=True))


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call
        django_get_or_create = ("campaign", "scope", "region")
        skip_postgeneration_save = True

    campaign = factory.SubFactory(CampaignFactory)
    scope = Call.Scope.REGIONAL
    region = factory.LazyFunction(lambda: Region.objects.get(code="11"))
    name = factory.Sequence(lambda n: f"Appel à projets {n}")
    opens_on = datetime.date(2023, 1, 16)
    closes_on = datetime.date(2030, 12, 31)
    envelope = Decimal(2_000_000)

    @factory.post_generation
    def grid(obj, create, extracted, **kwargs):
        if create:
            from applications.instruction.services import call_default_grid

            call_default_grid(call=obj)


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    grappe = factory.SubFactory(GrappeFactory)
    call = factory.SubFactory(CallFactory)
    requested_procurement = Decimal(0)
    requested_steering = Decimal(0)


def required_attachments(application: Application, by: User) -> None:
    """The attachments the submit guard asks for (``workflow.missing_attachments``): one per
    required kind and a share proof per ESSMS whose eligible share is below 1. Rows only, no
    file is stored: enough for the guard, not for a download."""
    rows = [(kind, None) for kind in REQUIRED_ATTACHMENTS]
    rows += [
        ("share_proof", m) for m in application.grappe.memberships.filter(eligible_share__lt=1)
    ]
    for kind, membership in rows:
        Attachment.objects.create(
            application=application,
            kind=kind,
            membership=membership,
            file=f"tests/{kind}.pdf",
            original_name=f"{kind}.pdf",
            content_type="application/pdf",
            size=13,
            uploaded_by=by,
        )


def grappe_with_structures(
    count: int, *, department: str = "75", category: str = "500", **grappe_kwargs: object
) -> Grappe:
    """A grappe whose porteur runs ``count`` ESSMS, all members of the grappe."""
    grappe = GrappeFactory(**grappe_kwargs)
    dept = Departement.objects.get(code=department)
    cat = FinessCategory.objects.get(code=category)
    for _ in range(count):
        GrappeMembershipFactory(
            grappe=grappe,
            structure=StructureFactory(organisation=grappe.porteur, departement=dept, category=cat),
        )
    return grappe
