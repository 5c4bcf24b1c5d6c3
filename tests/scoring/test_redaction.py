"""Redaction: each kind of personal data, false positives, and the 1,000-name swap test."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vbr.models import (FreeTextKey, Indicator, Question, QuestionType, Rubric, Scale, ScaleLevel,
                        Value)
from vbr.scoring.base import Redaction, Redactor
from vbr.scoring.evidence import EvidenceScorer
from vbr.scoring.redaction import (
    AddressRedactor, CandidateNameRedactor, EmailRedactor, NhsNumberRedactor, PhoneRedactor,
    PostcodeRedactor, TitledNameRedactor, default_redactors, nhs_number_is_valid, redact_answer,
)


def red(text: str, names=()) -> str:
    return redact_answer(text, names).text


# --------------------------------------------------------------------------- each PII type


def test_every_builtin_is_a_redactor_and_orders_are_unique():
    rs = default_redactors()
    assert all(isinstance(r, Redactor) for r in rs)
    assert len({r.id for r in rs}) == len(rs)
    assert len({r.order for r in rs}) == len(rs)


@pytest.mark.parametrize("text, expected", [
    ("Contact me on sarah.okafor@nhs.net please", "Contact me on [EMAIL] please"),
    ("j_o'brien+jobs@example.co.uk.", "[EMAIL]."),
    ("(a.b@trust.nhs.uk)", "([EMAIL])"),
])
def test_emails(text, expected):
    assert red(text) == expected


@pytest.mark.parametrize("number", [
    "07700 900123", "07700900123", "07700 900 123", "+44 7700 900123", "+447700900123",
    "+44 (0)20 7946 0958", "020 7946 0958", "(020) 7946 0958", "0161 496 0958", "01632 960001",
    "0800 123 4567", "0113-496-0000",
])
def test_uk_phone_numbers(number):
    assert red(f"Ring me on {number} after six.") == "Ring me on [PHONE] after six."


@pytest.mark.parametrize("text", [
    "I started on 12/03/2024 and left on 01/02/2023.",
    "The audit ran 2024-03-12 to 2024-04-01.",
    "Shifts ran 07:30 to 19:30 and 19.30 to 07.30.",
    "Between 2015 and 2019 I worked 37.5 hours a week.",
    "We saw 0 falls in 12 months and 120 patients.",
    "Obs were 120/80, HR 72, sats 96%.",
])
def test_dates_times_and_numbers_are_not_phone_numbers(text):
    assert red(text) == text


def test_nhs_number_check_digit():
    assert nhs_number_is_valid("943 476 5919")
    assert nhs_number_is_valid("9434765919")
    assert not nhs_number_is_valid("943 476 5918")
    assert not nhs_number_is_valid("123")


@pytest.mark.parametrize("number", ["943 476 5919", "943-476-5919", "9434765919", "401 023 2137"])
def test_nhs_numbers(number):
    assert nhs_number_is_valid(number)
    r = redact_answer(f"Her NHS number was {number}, which I checked.")
    assert r.text == "Her NHS number was [NHS_NUMBER], which I checked."
    assert r.replacements == (("NHS_NUMBER", number),)


def test_ten_digits_with_a_bad_check_digit_are_not_an_nhs_number():
    assert "[NHS_NUMBER]" not in red("Reference 943 476 5918 on the form.")


@pytest.mark.parametrize("pc", ["LS1 4AB", "SW1A 1AA", "sw1a 1aa", "M1 1AE", "B33 8TH", "CR2 6XH",
                                "DN55 1PT", "EC1A1BB", "W1A 0AX"])
def test_postcodes(pc):
    assert red(f"I live near {pc} now.") == "I live near [POSTCODE] now."


@pytest.mark.parametrize("text", [
    "I worked 12 hour shifts on Ward 5.", "We had 3 beds in bay 4B.", "Level 2 training, Band 5 post.",
    "I passed my A1 exam and my NVQ 3.", "COVID 19 changed everything.",
])
def test_things_that_are_not_postcodes_or_addresses(text):
    assert red(text) == text


@pytest.mark.parametrize("text, expected", [
    ("I live at 12 Acacia Avenue, Leeds.", "I live at [ADDRESS], Leeds."),
    ("Post to Flat 3, 45 High Street please.", "Post to [ADDRESS] please."),
    ("Her home at 221B Baker Street was cold.", "Her home at [ADDRESS] was cold."),
    ("At 7 St Mary's Road, Bristol BS1 5TR.", "At [ADDRESS], Bristol [POSTCODE]."),
    ("I visited her at 3 Church Lane every week.", "I visited her at [ADDRESS] every week."),
    ("I live in Flat 3, Rose Court, Leeds.", "I live in [ADDRESS], Rose Court, Leeds."),
])
def test_street_addresses(text, expected):
    assert red(text) == expected


@pytest.mark.parametrize("text", [
    "I worked 12 hour shifts and 4 long days.", "I cared for 6 Patients on the Acute Medical Unit.",
    "We walked 2 miles to the Park.", "I have 10 years in Emergency Care.",
    "In Room 12 Matron said no.", "We moved to Unit 4 Riverside wing.", "On Floor 2 The nurse came.",
])
def test_false_addresses(text):
    assert red(text) == text


# --------------------------------------------------------------------------- names


def test_candidate_name_full_parts_case_and_possessive():
    r = redact_answer("I am Sarah Okafor. sarah okafor is my name; Okafor's notes, SARAH's shift.",
                      ["Sarah Okafor"])
    assert r.text == "I am [NAME]. [NAME] is my name; [NAME]'s notes, [NAME]'s shift."
    assert all(kind == "NAME" for kind, _ in r.replacements)


def test_candidate_name_is_word_bounded():
    assert red("Sarahs and Annabel met Ann.", ["Ann Lee"]) == "Sarahs and Annabel met [NAME]."
    assert red("The sleeve was fleecy.", ["Ann Lee"]) == "The sleeve was fleecy."


def test_candidate_name_accents_and_hyphens():
    text = "Zoe Nguyen here, Zoë to friends; Smith-Jones and Jones signed."
    out = red(text, ["Zoë Nguyễn", "Mary Smith-Jones"])
    assert out == "[NAME] here, [NAME] to friends; [NAME] and [NAME] signed."


def test_name_parts_that_are_common_words_only_match_when_capitalised():
    out = red("Will said I will hope for the best. Grace showed grace.", ["Will Hope", "Grace Hall"])
    assert out == "[NAME] said I will hope for the best. [NAME] showed grace."


@pytest.mark.parametrize("text", [
    "I told Mrs Okafor.", "I told Dr. Nguyen.", "I told Dr Nguyen Van Anh.", "I told Sister O'Neill.",
    "I told Mr van der Berg.", "I told Ms Al-Sayed.", "I told Prof Wiśniewska.", "I told Mx Adeyemi-Cole.",
])
def test_titled_names_lose_the_title_too(text):
    assert red(text) == "I told [NAME]."


def test_titled_name_possessive():
    assert red("Dr Patel's plan was clear.") == "[NAME]'s plan was clear."


@pytest.mark.parametrize("text", [
    "The Nurse Practitioner and the Sister in charge agreed.",
    "I asked the doctor and the nurse.",
    "I asked the Doctor on call.",
])
def test_role_words_after_ambiguous_titles_are_kept(text):
    assert red(text) == text


def test_cued_names():
    out = red("My colleague Aisha and a patient called Tomasz, with my manager, Joan Smith, agreed.")
    assert out == "My colleague [NAME] and a patient called [NAME], with my manager, [NAME], agreed."
    assert red("My colleague and I agreed.") == "My colleague and I agreed."
    assert red("Her name was Adaeze and a man named Kofi came.") == "Her name was [NAME] and a man named [NAME] came."
    for kept in ["I used a tool called SBAR.", "I reported it on a system called Datix.",
                 "It is a condition called Sepsis."]:
        assert red(kept) == kept


def test_redact_answer_runs_in_order_and_keeps_replacements():
    class Upper:
        id = "upper"
        order = 1000

        def redact(self, text, names=()):
            return Redaction(text.upper(), ())

    r = redact_answer("Email a@b.com", (), [Upper(), EmailRedactor()])
    assert r.text == "EMAIL [EMAIL]"
    assert r.replacements == (("EMAIL", "a@b.com"),)


def test_empty_and_none_text():
    assert redact_answer("", ["A B"]).text == ""
    assert redact_answer(None, ()).text == ""  # type: ignore[arg-type]


def test_plugin_registration():
    from vbr.default_plugins import redactors as mod

    assert {r.id for r in mod.vbr_register_redactors()} == {r.id for r in default_redactors()}


# --------------------------------------------------------------------------- the name swap

GIVEN = """
Oliver Amelia Jack Charlotte Harry Sophie Thomas Emily George Jessica
Siobhan Niamh Ciaran Aoife Padraig Sinead Eoin Roisin Declan Orla
Agnieszka Krzysztof Katarzyna Wojciech Małgorzata Piotr Zofia Łukasz Magdalena Grzegorz
Chukwuemeka Ngozi Oluwaseun Adaeze Babajide Funmilayo Chidi Folake Obinna Temitope
Kwame Akosua Kofi Abena Yaw Efua Kwabena Adwoa Kojo Ama
Priya Arjun Lakshmi Rajesh Deepika Sanjay Ananya Vikram Kavya Harpreet
Ayesha Imran Zainab Bilal Sana Usman Hira Faisal Mehwish Kamran
Nusrat Rahim Farhana Shahidul Tahmina Anwar Rokeya Jahangir Shirin Mizanur
Wei Xiaoling Jun Mei Hao Yan Zhiwei Ling Jian Xiu
Minh Thi Huong Duc Lan Quang Thanh Phuong Tuan Hanh
Abdirahman Hodan Mohamed Faadumo Abdullahi Ayaan Hassan Ubah Yusuf Sahra
Fatima Omar Layla Khalid Noor Tariq Yasmin Karim Rania Samir
Shanice Marcus Keisha Delroy Tanisha Winston Jermaine Marcia Leroy Simone
Ioana Andrei Mihaela Alexandru Cristina Bogdan Raluca Florin Alina Sorin
Maricel Jose Rowena Rodel Analyn Jericho Liza Ramil Jocelyn Arnel
Grace Hope Joy Olusegun Chiamaka Siew Dariusz Nkechi Aurelia Bronwen
""".split()

FAMILY = [w.replace("_", " ") for w in """
Smith Jones Taylor Brown Williams Wilson Davies Evans Thomas Roberts
Murphy O'Brien Kelly O'Sullivan Walsh McCarthy Byrne Ryan O'Connor Ní_Bhriain
Kowalski Nowak Wiśniewska Wójcik Kamińska Lewandowski Zieliński Szymańska Dąbrowski Kozłowska
Okafor Adeyemi Okonkwo-Eze Nwosu Balogun Eze Obi Adebayo Chukwu Oyelaran
Mensah Asante Boateng Owusu Agyeman Osei Appiah Darko Addo Amoah
Patel Sharma Iyer Singh Reddy Gupta Nair Chatterjee Menon Kaur
Khan Chaudhry Malik Qureshi Butt Hussain Raza Siddiqui Akhtar Shah
Begum Uddin Rahman Islam Ahmed Chowdhury Miah Hossain Sarkar Talukder
Wang Zhang Liu Chen Huang Zhao Wu Ng Lim Ho
Nguyen Tran Le Pham Hoang Phan Vu Dang Bui Đỗ
Warsame Farah Abdi Jama Osman Hersi Guled Egal Duale Nur
Al-Sayed El-Masri Haddad Mansour Khoury Al-Rashid Nasser Saleh Aziz Barakat
d'Souza Gayle Forbes Clarke Bailey Grant Francis Henry Reid Morgan
Popescu Ionescu bin_Rashid Stan Stoica Gheorghe Rusu Munteanu Matei Constantin
Dela_Cruz Santos Reyes Bautista Garcia Mendoza Villanueva Aquino Castillo Ramos
van_der_Berg Ó_Súilleabháin Nakamura Kim Park Yilmaz Papadopoulos Müller Rossi Fernández
""".split()]  # "_" joins a multi-word family name

ALL_NAMES = [f"{g} {f}" for g, f in itertools.islice(itertools.product(GIVEN, FAMILY[::-1]), 0, None, 23)]
OTHERS = [f"{g} {f}" for g, f in itertools.islice(itertools.product(GIVEN[::-1], FAMILY), 7, None, 23)]


def test_the_name_list_is_large_and_varied():
    assert len(set(ALL_NAMES)) >= 1000
    assert len(set(OTHERS)) >= 1000
    assert len(GIVEN) >= 150 and len(FAMILY) >= 150


TEMPLATES = [
    "My name is {full} and I am applying for the Band 5 post. On a night shift a patient was "
    "anxious and upset, so I sat with her, listened to her worries and held her hand. I asked "
    "{title} {other_family} to review her pain relief. I never ignore a call bell and I did not "
    "blame the day staff. {given}'s manager, {title2} {other_full}, later said {given} had been kind.",
    "I am {given_lower} {family_lower}. I would not dismiss a relative who complains. I explained "
    "the plan in plain language, checked they understood and involved the family in the decision. "
    "When {title} {other_family} raised a concern I escalated it to the nurse in charge. "
    "Signed, {full}.",
    "{full}: I always put the patient first. I told {title2} {other_full} that I was worried, "
    "reported it on Datix and reflected on what went wrong with my mentor.",
]
TITLES = ["Mrs", "Mr", "Dr", "Ms", "Dr.", "Sister", "Prof", "Mx", "Miss", "Nurse"]


def _rubric() -> Rubric:
    levels = tuple(ScaleLevel(level=i, label=f"L{i}", anchor=f"Anchor text for level {i}.") for i in range(5))
    ind = lambda i, pol, *ph: Indicator(id=i, polarity=pol, text=f"indicator {i}", phrases=ph)  # noqa: E731
    values = (
        Value(id="compassion", name="Compassion", description="Kindness, empathy and dignity.",
              indicators=(ind("c-time", "positive", "sat with", "made time"),
                          ind("c-listen", "positive", "listen"),
                          ind("c-empathy", "positive", "upset", "anxious", "worries"),
                          ind("c-kind", "positive", "kind", "held her hand"),
                          ind("c-ignore", "negative", "ignore", "dismiss"),
                          ind("c-blame", "negative", "blame"))),
        Value(id="courage", name="Courage", description="Speaking up and doing the right thing.",
              indicators=(ind("k-speak", "positive", "raised a concern", "worried", "escalat"),
                          ind("k-report", "positive", "report", "datix"),
                          ind("k-reflect", "positive", "reflect", "went wrong"),
                          ind("k-silent", "negative", "said nothing"))),
        Value(id="communication", name="Communication", description="Clear explanation and involvement.",
              indicators=(ind("m-plain", "positive", "plain language", "explain"),
                          ind("m-check", "positive", "checked they understood"),
                          ind("m-involve", "positive", "involve", "decision", "family"))),
    )
    q = Question(id="q1", type=QuestionType.free_text, text="Tell us about a time you cared for someone.",
                 values=("compassion", "courage", "communication"),
                 strong_answer_notes="Specific example, own actions, reflection.",
                 key=FreeTextKey(strong_answer="I sat with the patient and listened."))
    return Rubric(id="test", name="Test", version="1.0", framework="test", description="test rubric",
                  scale=Scale(levels=levels), values=values, questions=(q,))


RUBRIC = _rubric()
QUESTION = RUBRIC.questions[0]
SCORER = EvidenceScorer()


def _fill(template: str, full: str, other_full: str, title: str, title2: str) -> str:
    given_, family = full.split(" ", 1)
    return template.format(
        full=full, given=given_, family=family, given_lower=given_.lower(), family_lower=family.lower(),
        other_full=other_full, other_family=other_full.split(" ", 1)[1], title=title, title2=title2,
    )


def _signature(text: str):
    return [(s.value_id, s.level, s.confidence, tuple(e.indicator_id for e in s.evidence))
            for s in SCORER.score(RUBRIC, QUESTION, text)]


BASELINE = {
    t: (redact_answer(_fill(t, "Alex Doe", "Sam Roe", "Mrs", "Dr"), ["Alex Doe"]).text,)
    for t in TEMPLATES
}
for _t in TEMPLATES:
    BASELINE[_t] += (_signature(BASELINE[_t][0]),)


def _name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[\s\-']+", name) if len(w) >= 2]


def test_name_swap_sweep_all_names_no_score_changes():
    """Every one of the >= 1,000 names, in every template: identical redacted text and scores."""
    for i, (full, other) in enumerate(zip(ALL_NAMES, OTHERS)):
        t = TEMPLATES[i % len(TEMPLATES)]
        text = _fill(t, full, other, TITLES[i % len(TITLES)], TITLES[(i + 3) % len(TITLES)])
        r = redact_answer(text, [full])
        assert r.text == BASELINE[t][0], (full, other, r.text)
        assert _signature(r.text) == BASELINE[t][1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    full=st.sampled_from(ALL_NAMES), other=st.sampled_from(OTHERS),
    template=st.sampled_from(TEMPLATES), title=st.sampled_from(TITLES), title2=st.sampled_from(TITLES),
)
def test_name_swap_hypothesis(full, other, template, title, title2):
    text = _fill(template, full, other, title, title2)
    r = redact_answer(text, [full])
    base_text, base_sig = BASELINE[template]
    assert r.text == base_text
    assert _signature(r.text) == base_sig
    scores = SCORER.score(RUBRIC, QUESTION, r.text)
    for s in scores:
        for e in s.evidence:
            assert r.text[e.start:e.end] == e.text
    lowered = r.text.lower()
    for w in _name_words(full) + _name_words(other):
        if w.lower() in {"le", "van", "der", "joy", "hope", "grace", "kind"}:
            continue  # common words: only the capitalised name form is removed
        assert not re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", lowered), (w, r.text)


@pytest.mark.parametrize("text, expected", [
    ("I told Staff Nurse Okafor and the Ward Manager, who agreed.", "I told [NAME] and the Ward Manager, who agreed."),
    ("My manager, Ward Manager Lee, listened.", "My manager, [NAME], listened."),
    ("I asked Nurse Practitioner Adebayo.", "I asked [NAME]."),
    ("The Consultant Anaesthetist came.", "The Consultant Anaesthetist came."),
    ("My manager, Band 7 nurse, said no.", "My manager, Band 7 nurse, said no."),
    ("The patient Care Plan was updated.", "The patient Care Plan was updated."),
    ("NEWS2 score of 7 at 07:45 on 12.03.2024; call 111 or 999.", "NEWS2 score of 7 at 07:45 on 12.03.2024; call 111 or 999."),
    ("I am Band 5 on 5 West Ward and did 3 Nights.", "I am Band 5 on 5 West Ward and did 3 Nights."),
])
def test_nhs_roles_and_ward_talk(text, expected):
    assert red(text) == expected


@settings(max_examples=150, deadline=None)
@given(full=st.sampled_from(ALL_NAMES), other=st.sampled_from(OTHERS), template=st.sampled_from(TEMPLATES))
def test_redaction_is_idempotent(full, other, template):
    once = redact_answer(_fill(template, full, other, "Dr", "Mrs"), [full]).text
    assert redact_answer(once, [full]).text == once
    assert redact_answer(once, []).text == once


@pytest.mark.parametrize("full, other, title, title2, template", [
    # found by the name-swap test: a part of the candidate's own double-barrelled name inside
    # another person's ("Rashid" in "Al-Rashid", "Al" in "Al-Sayed") left "[NAME]-Rashid"
    ("Łukasz bin Rashid", "Tahmina Al-Rashid", "Mrs", "Mrs", 0),
    ("Jose Al-Sayed", "Tahmina Al-Rashid", "Sister", "Mrs", 2),
    ("Raluca Al-Rashid", "Ananya Al-Sayed", "Mr", "Prof", 1),
    ("Farhana Al-Sayed", "Sophie Al-Rashid", "Ms", "Ms", 1),
])
def test_part_of_the_candidates_name_inside_another_name_leaves_the_same_text(full, other, title, title2,
                                                                               template):
    tpl = TEMPLATES[template]
    assert redact_answer(_fill(tpl, full, other, title, title2), [full]).text == BASELINE[tpl][0]


def test_one_placeholder_per_name_but_endings_that_are_not_names_stay():
    r = redact_answer("Rashid's ward is Rashid-led; Al-Rashid and O'Rashid came, Rashid-Smith too.", ["Rashid"])
    assert r.text == "[NAME]'s ward is [NAME]-led; [NAME] and [NAME] came, [NAME] too."
