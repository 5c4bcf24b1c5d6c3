"""Numbered, append-only schema migrations. Never edit a released migration: add a new one.

SQL is written once for SQLite and PostgreSQL; ``{pk}`` becomes each dialect's auto-increment
primary key, ``{json}`` its JSON text type and ``{float}`` its 8-byte float (PostgreSQL's REAL is
4 bytes; SQLite's is 8, so the SQLite text of every migration is unchanged by this word).
``{payload_campaign}`` is an audit-log payload's top-level ``campaign`` string (SQLite's JSON1 or
PostgreSQL's json operators), used by :data:`ENTRY_CAMPAIGNS`.
"""

from __future__ import annotations

DIALECT_WORDS = {
    "sqlite": {"pk": "INTEGER PRIMARY KEY AUTOINCREMENT", "json": "TEXT", "ts": "TEXT", "float": "REAL",
               "payload_campaign": "CASE WHEN payload LIKE '%\"campaign\"%' AND json_valid(payload)"
                                   " AND json_type(payload, '$.campaign') = 'text'"
                                   " THEN NULLIF(json_extract(payload, '$.campaign'), '') END"},
    "postgresql": {"pk": "BIGSERIAL PRIMARY KEY", "json": "TEXT", "ts": "TEXT", "float": "DOUBLE PRECISION",
                   "payload_campaign": "CASE WHEN payload LIKE '%\"campaign\"%'"
                                       " AND json_typeof(CAST(payload AS json) -> 'campaign') = 'string'"
                                       " THEN NULLIF(CAST(payload AS json) ->> 'campaign', '') END"},
}


# The campaign each audit-log entry is about, for every entry that is about one (seq, campaign_id),
# computed from the entry alone and the tables it names. vbr.store.log.entry_campaign() is the same
# rule in Python for new entries (a test holds the two to each other); first match wins:
#   subject 'campaign:<id>'               -> <id>
#   subject 'shortlist:<n>'               -> that shortlist's campaign (n written as vbr writes it)
#   subject 'score:<app>/<question>/<value>' -> that application's campaign (question and value ids
#                                            have no '/'; an application id may)
#   payload {"campaign": "<id>"}          -> <id>
# Written with substr/rtrim/replace/length only, so that it reads the same on both backends:
# rtrim(s, replace(s, '/', '')) is s up to and including its last '/'. It is part of migration 3's
# text: change the rule with a new migration, not here.
ENTRY_CAMPAIGNS = """
SELECT seq, COALESCE(
    CASE WHEN substr(subject, 1, 9) = 'campaign:' AND length(subject) > 9 THEN substr(subject, 10) END,
    (SELECT s.campaign_id FROM shortlists s WHERE s.id = shortlist_no
        AND 'shortlist:' || CAST(s.id AS TEXT) = subject),
    (SELECT a.campaign_id FROM applications a WHERE a.id = substr(app2, 1, length(app2) - 1)),
    {payload_campaign}) AS campaign_id
FROM (SELECT seq, subject, payload, shortlist_no, rtrim(app1, replace(app1, '/', '')) AS app2
      FROM (SELECT seq, subject, payload, shortlist_no, substr(app0, 1, length(app0) - 1) AS app1
            FROM (SELECT seq, subject, payload,
                         CASE WHEN substr(subject, 1, 10) = 'shortlist:' AND length(subject) BETWEEN 11 AND 28
                              AND ltrim(substr(subject, 11), '0123456789') = ''
                              THEN CAST(substr(subject, 11) AS BIGINT) END AS shortlist_no,
                         CASE WHEN substr(subject, 1, 6) = 'score:'
                              AND length(subject) - length(replace(subject, '/', '')) >= 2
                              THEN rtrim(substr(subject, 7), replace(substr(subject, 7), '/', '')) END AS app0
                  FROM audit_log) l0) l1) l2
"""

MAIN: list[tuple[int, str, list[str]]] = [
    (1, "campaigns, applications, responses, scores, ratings, shortlists, audit log", [
        """CREATE TABLE campaigns (
            id TEXT PRIMARY KEY, title TEXT NOT NULL, rubric_id TEXT NOT NULL,
            rubric_ref TEXT NOT NULL, question_ids {json} NOT NULL, organisation TEXT,
            tenant TEXT NOT NULL DEFAULT 'default', created_at {ts} NOT NULL)""",
        """CREATE TABLE applications (
            id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL REFERENCES campaigns(id),
            reference TEXT, disability_confident INTEGER NOT NULL DEFAULT 0,
            submitted_at {ts}, created_at {ts} NOT NULL)""",
        "CREATE INDEX applications_campaign ON applications(campaign_id)",
        """CREATE TABLE responses (
            application_id TEXT NOT NULL REFERENCES applications(id), question_id TEXT NOT NULL,
            original_text TEXT, redacted_text TEXT, structured {json}, received_at {ts} NOT NULL,
            PRIMARY KEY (application_id, question_id))""",
        """CREATE TABLE scores (
            id {pk}, application_id TEXT NOT NULL, question_id TEXT NOT NULL,
            value_id TEXT NOT NULL, level INTEGER NOT NULL, confidence {float} NOT NULL,
            evidence {json} NOT NULL, anchor TEXT, scorer_id TEXT NOT NULL,
            scorer_version TEXT NOT NULL, rubric_ref TEXT NOT NULL, flags {json} NOT NULL,
            source TEXT NOT NULL, created_by TEXT NOT NULL, reason TEXT,
            supersedes INTEGER, created_at {ts} NOT NULL)""",
        "CREATE INDEX scores_answer ON scores(application_id, question_id, value_id, id)",
        """CREATE TABLE human_ratings (
            id {pk}, application_id TEXT NOT NULL, question_id TEXT NOT NULL,
            value_id TEXT NOT NULL, rater TEXT NOT NULL, level INTEGER NOT NULL,
            created_at {ts} NOT NULL)""",
        """CREATE TABLE shortlists (
            id {pk}, campaign_id TEXT NOT NULL REFERENCES campaigns(id), stage TEXT NOT NULL,
            application_ids {json} NOT NULL, created_by TEXT NOT NULL, created_at {ts} NOT NULL)""",
        """CREATE TABLE gate_decisions (
            id {pk}, shortlist_id INTEGER NOT NULL REFERENCES shortlists(id),
            decision TEXT NOT NULL, reasons {json} NOT NULL, regime TEXT NOT NULL,
            audit {json} NOT NULL, released INTEGER NOT NULL DEFAULT 0, released_by TEXT,
            justification TEXT, decided_at {ts} NOT NULL)""",
        """CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY, ts {ts} NOT NULL, actor TEXT NOT NULL,
            action TEXT NOT NULL, subject TEXT NOT NULL, reason TEXT, payload {json} NOT NULL,
            prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
    ]),
    (2, "flags on answers that could not be scored; at most one release per shortlist", [
        """CREATE TABLE answer_flags (
            id {pk}, application_id TEXT NOT NULL, question_id TEXT NOT NULL, flags {json} NOT NULL,
            scorer_id TEXT NOT NULL, scorer_version TEXT NOT NULL, created_by TEXT NOT NULL,
            created_at {ts} NOT NULL)""",
        "CREATE INDEX answer_flags_answer ON answer_flags(application_id, question_id, id)",
        "CREATE UNIQUE INDEX gate_decisions_one_release ON gate_decisions(shortlist_id) WHERE released = 1",
    ]),
    (3, "audit-log entries indexed by campaign (written with each entry; existing entries back-filled)", [
        # A side table, not a column of audit_log: audit_log refuses UPDATE, so existing rows could
        # not be back-filled in place, and the hash chain (vbr log verify) stays exactly as it was.
        """CREATE TABLE audit_log_campaigns (
            seq INTEGER PRIMARY KEY REFERENCES audit_log(seq), campaign_id TEXT NOT NULL)""",
        "INSERT INTO audit_log_campaigns (seq, campaign_id) SELECT seq, campaign_id FROM ("
        + ENTRY_CAMPAIGNS + ") e WHERE campaign_id IS NOT NULL",
        "CREATE INDEX audit_log_campaigns_campaign ON audit_log_campaigns(campaign_id, seq)",
    ]),
    (4, "indexes in the order pages read: a tenant's campaigns by date, a campaign's applications by id", [
        # Pages read LIMIT/OFFSET slices in these orders; without them every page sorted the whole
        # tenant's campaigns or the whole campaign's applications. The new applications index
        # starts with campaign_id, so it serves every lookup the old one did.
        "CREATE INDEX campaigns_tenant_created ON campaigns(tenant, created_at, id)",
        "CREATE INDEX applications_campaign_id ON applications(campaign_id, id)",
        "DROP INDEX applications_campaign",
    ]),
]

# Append-only tables refuse UPDATE and DELETE at the database itself.
APPEND_ONLY = ("audit_log", "scores", "human_ratings", "answer_flags", "audit_log_campaigns")


def guards(dialect: str, tables: tuple[str, ...]) -> list[str]:
    """Triggers that make ``tables`` refuse UPDATE and DELETE."""
    out: list[str] = []
    for table in tables:
        if dialect == "sqlite":
            for op in ("UPDATE", "DELETE"):
                out.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        elif dialect == "postgresql":
            # Created when missing (or disabled), not dropped and re-created on every open:
            # DROP TRIGGER takes an exclusive lock on the table, which would stall readers.
            out.append(
                "CREATE OR REPLACE FUNCTION vbr_append_only() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
            )
            out.append(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE "
                f"tgrelid = to_regclass('{table}') AND tgname = '{table}_append_only' AND tgenabled <> 'D') "
                f"THEN DROP TRIGGER IF EXISTS {table}_append_only ON {table}; "
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION vbr_append_only(); END IF; END $$"
            )
    return out
