"""A synthetic campaign for the walking skeleton: applicants, answers and equality records.

Answers are written from templates of varying quality and equality records are drawn from an
NHS-like ethnic mix *independently* of answer quality, then stored apart. Names are random
combinations used only to show that redaction removes them; nothing is inferred from them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from vbr.models import Application, Response, Rubric

# Roughly the mix of NHS job applicants in England (detailed NHS codes), with declined (Z) and
# not-known (99) answers. Illustrative, not a statistic to quote.
ETHNIC_MIX: dict[str, float] = {
    "A": 0.52, "B": 0.01, "C": 0.07, "D": 0.01, "E": 0.01, "F": 0.01, "G": 0.01,
    "H": 0.09, "J": 0.04, "K": 0.015, "L": 0.03, "M": 0.02, "N": 0.09, "P": 0.01,
    "R": 0.01, "S": 0.02, "Z": 0.03, "99": 0.025,
}

STRONG = [
    "I would listen carefully to the patient and ask what matters most to them before acting.",
    "I would explain clearly what was happening, check they understood, and involve them in the decision.",
    "I would make time to sit with the family, acknowledge their distress and reassure them honestly.",
    "I spoke up to the nurse in charge and escalated my concern so the patient was safe.",
    "I respected their dignity and privacy by closing the curtains and asking how they preferred to be addressed.",
    "I worked together with the physiotherapist and the ward team so the discharge plan suited the patient.",
    "Afterwards I reflected on what I had learned and asked my supervisor for feedback.",
    "I made sure the interpreter was booked so that everyone could take part and nobody was left out.",
    "I kept the information confidential and only shared it with the team caring for the patient.",
    "I followed the safeguarding policy and reported the incident so we could learn from it.",
    "I treated the person as an individual and supported them to stay as independent as possible.",
    "I showed kindness by noticing she was anxious and finding a small thing that comforted her.",
]
ADEQUATE = [
    "I would try to help the patient and tell someone if there was a problem.",
    "I think it is important to be kind and polite to everyone.",
    "I would do my job properly and follow the rules.",
    "I have worked in a care home so I know how to look after people.",
    "Teamwork is important and I get on with people.",
    "I would make sure the patient was okay.",
]
WEAK = [
    "It was not really my responsibility so I left it for the next shift.",
    "I was too busy with my tasks to stop and talk to the relative.",
    "The other staff were to blame for the mistake, not me.",
    "I just got on with the job and did not worry about how they felt.",
    "I told my friends about the patient because it was an interesting case.",
]

GIVEN = ["Alex", "Sam", "Jordan", "Priya", "Chidi", "Aisha", "Tomasz", "Mei", "Liam", "Fatima", "Oluwaseun",
         "Siobhan", "Ravi", "Grace", "Mohammed", "Ana", "Kwame", "Hannah", "Nguyen", "Ioana"]
FAMILY = ["Smith", "Patel", "Okafor", "Kowalski", "Chen", "Murphy", "Khan", "Mensah", "Jones", "Popescu",
          "Begum", "Santos", "Williams", "Ahmed", "Nowak", "Osei", "Taylor", "Singh", "Tran", "Brown"]


@dataclass
class DemoCampaign:
    applications: list[Application]
    responses: list[Response]
    names: dict[str, list[str]]
    equality: list[dict[str, str | None]]
    question_ids: list[str] = field(default_factory=list)


def _answer(rng: random.Random, quality: float, name: str | None) -> str:
    """An answer whose share of strong sentences follows the candidate's latent quality."""
    n = rng.randint(3, 6)
    sentences = []
    for _ in range(n):
        u = rng.random()
        if u < quality:
            sentences.append(rng.choice(STRONG))
        elif u < quality + (1 - quality) * 0.6:
            sentences.append(rng.choice(ADEQUATE))
        else:
            sentences.append(rng.choice(WEAK))
    if name and rng.random() < 0.3:
        sentences.insert(0, f"My name is {name} and I have worked as a healthcare assistant.")
    seen: list[str] = []
    for s in sentences:
        if s not in seen:
            seen.append(s)
    return " ".join(seen)


def generate(rubric: Rubric, *, campaign_id: str = "demo", n: int = 300, seed: int = 7,
             questions_per_value: int = 1, max_questions: int = 4) -> DemoCampaign:
    """Build a campaign of ``n`` applicants answering free-text questions of ``rubric``."""
    rng = random.Random(seed)
    free = [q for q in rubric.questions if q.type.value == "free_text"]
    chosen, covered = [], set()
    for q in free:
        if len(chosen) >= max_questions:
            break
        if not set(q.values) <= covered or questions_per_value > 1:
            chosen.append(q)
            covered |= set(q.values)
    qids = [q.id for q in chosen]
    codes, weights = zip(*ETHNIC_MIX.items())
    apps, responses, names, equality = [], [], {}, []
    for i in range(1, n + 1):
        app_id = f"{campaign_id}-{i:05d}"
        name = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
        quality = rng.betavariate(2.2, 2.0)
        apps.append(Application(id=app_id, campaign_id=campaign_id, reference=f"C{i:05d}",
                                disability_confident=rng.random() < 0.04))
        names[app_id] = [name]
        for qid in qids:
            text = "" if rng.random() < 0.01 else _answer(rng, quality, name)
            responses.append(Response(application_id=app_id, question_id=qid, text=text))
        code = rng.choices(codes, weights=weights)[0]
        equality.append({"application_id": app_id, "ethnic_code": code,
                         "sex": rng.choice(["F", "F", "F", "M", "M", None])})
    return DemoCampaign(apps, responses, names, equality, qids)
