"""The service catalogue: the motifs residents book, as France Services counters know them.

Durations follow what counsellors report for an accompanied procedure (a first
appointment, the resident present, documents in hand). ``short_label`` goes into SMS
lists, so it stays in the GSM-7 alphabet (é è à ù are fine; â ê î ô û ç œ ’ are not).
Operators' procedures change: a territory can override any entry by importing a
``services.csv`` (same codes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mobile_services.territory.records import ServiceRecord

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlmodel import Session

log = logging.getLogger(__name__)

_PIECE_IDENTITE = "pièce d'identité"
_DOMICILE = "justificatif de domicile de moins de 6 mois"
_PORTABLE = "téléphone portable (pour recevoir les codes de connexion)"


def catalogue() -> list[ServiceRecord]:
    """The default catalogue, validated like an imported services.csv."""
    return [
        ServiceRecord(
            code="caf",
            label="CAF : allocations, aide au logement, RSA, prime d'activité",
            short_label="CAF",
            operator="CAF",
            duration_minutes=30,
            required_skill="caf",
            documents=["numéro d'allocataire et mot de passe CAF", "dernier avis d'imposition", "RIB", _PORTABLE],
        ),
        ServiceRecord(
            code="ameli",
            label="Assurance maladie (Ameli / CPAM) : compte ameli, remboursements, complémentaire santé solidaire",
            short_label="Ameli / CPAM",
            operator="CPAM",
            duration_minutes=30,
            required_skill="ameli",
            documents=["carte Vitale", "numéro de sécurité sociale", _PORTABLE],
        ),
        ServiceRecord(
            code="france_travail",
            label="France Travail : inscription, actualisation, espace personnel",
            short_label="France Travail",
            operator="France Travail",
            duration_minutes=45,
            required_skill="france_travail",
            documents=[
                "identifiant France Travail (si déjà inscrit)",
                _PIECE_IDENTITE,
                "carte Vitale",
                "RIB",
                "CV si vous en avez un",
            ],
        ),
        ServiceRecord(
            code="impots",
            label="Impôts (DGFiP) : déclaration en ligne, espace particulier, prélèvement à la source",
            short_label="Impots",
            operator="DGFiP",
            duration_minutes=30,
            required_skill="impots",
            documents=[
                "numéro fiscal (sur le dernier avis d'impôt)",
                "dernier avis d'impôt",
                "justificatifs de revenus",
                _PORTABLE,
            ],
        ),
        ServiceRecord(
            code="ants_carte_grise",
            label="ANTS : carte grise (changement de titulaire, d'adresse, déclaration de cession)",
            short_label="Carte grise",
            operator="ANTS",
            duration_minutes=30,
            required_skill="ants",
            documents=[
                "certificat d'immatriculation barré et signé par le vendeur",
                "code de cession remis par le vendeur",
                "contrôle technique de moins de 6 mois (véhicule de plus de 4 ans)",
                _PIECE_IDENTITE,
                _DOMICILE,
            ],
        ),
        ServiceRecord(
            code="ants_permis",
            label="ANTS : permis de conduire (renouvellement, perte, vol, inscription à l'examen)",
            short_label="Permis conduire",
            operator="ANTS",
            duration_minutes=30,
            required_skill="ants",
            documents=[
                "photo d'identité numérique (code ePhoto)",
                "ancien permis ou déclaration de perte/vol",
                _PIECE_IDENTITE,
                _DOMICILE,
            ],
        ),
        ServiceRecord(
            code="ants_titres",
            label="ANTS : pré-demande de carte d'identité ou de passeport",
            short_label="CNI / passeport",
            operator="ANTS",
            duration_minutes=30,
            required_skill="ants",
            documents=[
                "photo d'identité de moins de 6 mois",
                "ancienne carte ou ancien passeport",
                _DOMICILE,
                "timbre fiscal pour un passeport (achat en ligne possible)",
            ],
        ),
        ServiceRecord(
            code="msa",
            label="MSA : santé, famille, retraite et cotisations des exploitants et salariés agricoles",
            short_label="MSA",
            operator="MSA",
            duration_minutes=30,
            required_skill="msa",
            documents=["numéro de sécurité sociale", "identifiants de l'espace privé MSA", _PORTABLE],
        ),
        ServiceRecord(
            code="retraite",
            label="Retraite (CARSAT) : relevé de carrière, demande de retraite en ligne, réversion",
            short_label="Retraite",
            operator="CARSAT",
            duration_minutes=60,
            required_skill="retraite",
            documents=[
                "numéro de sécurité sociale",
                "relevé de carrière (si vous l'avez)",
                "RIB",
                "dernier avis d'impôt",
                _PIECE_IDENTITE,
            ],
        ),
        ServiceRecord(
            code="cheque_energie",
            label="Chèque énergie : utilisation en ligne, pré-affectation, réclamation",
            short_label="Chèque énergie",
            operator="ASP / Ministère de la transition énergétique",
            duration_minutes=20,
            required_skill="energie",
            documents=["chèque énergie reçu", "dernière facture d'énergie (électricité, gaz, fioul ou bois)"],
        ),
        ServiceRecord(
            code="smartphone",
            label="Premiers pas avec un smartphone : réglages, applications, appels vidéo",
            short_label="Smartphone",
            operator="Conseiller numérique",
            duration_minutes=45,
            required_skill="numerique_base",
            documents=["votre smartphone chargé et son code de déverrouillage"],
        ),
        ServiceRecord(
            code="ordinateur",
            label="Premiers pas avec un ordinateur : souris, clavier, navigateur, documents",
            short_label="Ordinateur",
            operator="Conseiller numérique",
            duration_minutes=45,
            required_skill="numerique_base",
            documents=["votre ordinateur portable si vous en avez un (sinon nous en prêtons un)"],
        ),
        ServiceRecord(
            code="messagerie",
            label="Créer et utiliser une adresse e-mail",
            short_label="Adresse e-mail",
            operator="Conseiller numérique",
            duration_minutes=30,
            required_skill="numerique_base",
            documents=[_PORTABLE, "un mot de passe auquel vous avez réfléchi"],
        ),
        ServiceRecord(
            code="atelier_numerique",
            label="Atelier collectif : les bons réflexes en ligne (arnaques, mots de passe, démarches sûres)",
            short_label="Atelier",
            operator="Conseiller numérique",
            duration_minutes=90,
            required_skill="atelier",
            documents=["votre smartphone, tablette ou ordinateur si vous en avez un"],
            is_group=True,
            group_capacity=8,
        ),
    ]


@dataclass(frozen=True)
class SeedResult:
    created: tuple[str, ...]
    kept: tuple[str, ...]


def service_values(record: ServiceRecord) -> dict[str, Any]:
    """The ``service`` table columns (except ``code``) for a record."""
    return {
        "label": record.label,
        "short_label": record.short_label,
        "operator": record.operator,
        "duration_minutes": record.duration_minutes,
        "required_skill": record.required_skill,
        "documents": list(record.documents),
        "is_group": record.is_group,
        "group_capacity": record.group_capacity,
    }


def seed_catalogue(target: Session | Engine) -> SeedResult:
    """Add the catalogue services whose code is missing; existing ones are left as they are.

    Idempotent: a second call creates nothing. A coordinator's changes (imported from
    services.csv) are never overwritten. With a Session, the caller commits.
    """
    # The storage stack is imported here so that catalogue() and the generator stay
    # importable (and fast to import) without it.
    from sqlalchemy import Engine
    from sqlmodel import col, select

    from mobile_services.service_layer import reference_data
    from mobile_services.storage.db import session_scope
    from mobile_services.storage.tables import Service

    if isinstance(target, Engine):
        with session_scope(target) as session:
            return seed_catalogue(session)
    reference_data.forget_after_commit(target)
    records = catalogue()
    codes = [record.code for record in records]
    present = set(target.exec(select(Service.code).where(col(Service.code).in_(codes))))
    created = []
    for record in records:
        if record.code not in present:
            target.add(Service(code=record.code, **service_values(record)))
            created.append(record.code)
    target.flush()
    log.info("service catalogue: %d created, %d already present", len(created), len(present))
    return SeedResult(created=tuple(created), kept=tuple(code for code in codes if code in present))
