#!/usr/bin/env bash
# Deployment smoke test (docs/deployment.md), on loopback:
#   PostgreSQL loop DB (the cluster of scripts/test-setup.sh, a fresh database) + a small demo
#   workspace (2,000 leads, DuckDB facts) + `levier serve --workers 2`; then, through BOTH workers
#   (proved by the X-Levier-Worker pid header): log in on one and use the session on the other,
#   create an action through the API and see it on the board of the other, post a touch and see
#   /api/v1/policy/check change its answer, fetch a variant; stop the server, `levier facts flush`,
#   and check the touch and the assignment are in the facts. `levier loop tick` (the webhook cron
#   job) runs while the workers serve.
# Exit status 0 when every step passed; otherwise a message naming the failed step.
# Settings: LEVIER_TEST_PG_PORT (54329), LEVIER_TEST_PG_URL (admin URL), LEVIER_SMOKE_PORT,
#           LEVIER_SMOKE_LEADS (2000), LEVIER_SMOKE_KEEP=1 keeps the work directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${LEVIER_PYTHON:-$root/.venv/bin/python}"
levier="${LEVIER_BIN:-$(dirname "$py")/levier}"
pg_port="${LEVIER_TEST_PG_PORT:-54329}"
admin_url="${LEVIER_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:${pg_port}/postgres}"
port="${LEVIER_SMOKE_PORT:-$((20000 + RANDOM % 20000))}"
leads="${LEVIER_SMOKE_LEADS:-2000}"
dbname="levier_smoke_$$_${RANDOM}"
work="$(mktemp -d -t levier-smoke.XXXXXX)"
server=""
export LEVIER_LANG=en PYTHONDONTWRITEBYTECODE=1
start=$(date +%s)

say() { echo "deploy-smoke [$(( $(date +%s) - start ))s]: $*" >&2; }
fail() { echo "deploy-smoke: FAILED: $*" >&2; exit 1; }
stop_server() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$server" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$server" 2>/dev/null && { kill -KILL "$server" 2>/dev/null || true; }
  fi
  server=""
}
cleanup() {
  status=$?
  stop_server
  "$py" - "$admin_url" "$dbname" <<'EOF' >/dev/null 2>&1 || true
import sys, sqlalchemy as sa
e = sa.create_engine(sys.argv[1], isolation_level="AUTOCOMMIT")
with e.connect() as c:
    c.execute(sa.text(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)'))
EOF
  if [ "$status" != 0 ] && [ -f "$work/serve.log" ]; then echo "--- server log ---" >&2; tail -n 40 "$work/serve.log" >&2; fi
  if [ "${LEVIER_SMOKE_KEEP:-0}" = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# 1. PostgreSQL: the test cluster (started by scripts/test-setup.sh when it does not answer)
pg_ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p "$pg_port"; }
if [ -z "${LEVIER_TEST_PG_URL:-}" ] && ! pg_ready; then
  say "PostgreSQL is not answering on 127.0.0.1:$pg_port: running scripts/test-setup.sh"
  bash "$root/scripts/test-setup.sh" || fail "could not start PostgreSQL (scripts/test-setup.sh)"
fi

# 2. a workspace: demo data, the loop on a fresh PostgreSQL database, users, a published experiment
say "creating the workspace ($leads leads, loop on PostgreSQL database $dbname)"
"$py" - "$work" "$admin_url" "$dbname" "$leads" <<'EOF' || fail "step 2: could not create the workspace"
import json, sys
from pathlib import Path
import sqlalchemy as sa
from levier.analysis.experiments.protocol import Arm, Change, Protocol, ProtocolStore, WebSettings
from levier.data.demo import generate
from levier.data.ingest import import_file
from levier.loop.db import transaction
from levier.loop.services import users
from levier.workspace import create_workspace

work, admin_url, dbname, leads = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
with admin.connect() as c:
    c.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
db_url = sa.make_url(admin_url).set(database=dbname).render_as_string(hide_password=False)
generate(work / "data", leads=leads, seed=7, touches_per_lead=3.0)
ws = create_workspace(work / "ws", db_url=db_url, timezone="UTC")
for table in ("leads", "touches"):
    import_file(ws, work / "data" / f"{table}.parquet", table, timezone="UTC")
with transaction(ws.session) as s:
    users.create_user(s, "smoke-admin", role="admin", password="smoke-password-1", name="Smoke admin")
    users.create_user(s, "smoke-editor", role="editor", password="smoke-password-2", name="Smoke editor")
ProtocolStore(ws.path).save(Protocol(key="smoke-hero", unit="visitor",
                                     arms=[Arm(name="control"), Arm(name="treatment", changes=[Change(selector="h1", action="text", value="Hi")])],
                                     web=WebSettings(enabled=True, origins=["https://www.example.com"])))
t = ws.table("leads")
ids = t.filter(~t.vip.fill_null(False) & ~t.litigation.fill_null(False) & ~t.do_not_contact.fill_null(False)
               & t.opted_out_at.isnull()).order_by("lead_id").limit(40).lead_id.execute().tolist()
backend = ws.engine.dialect.name
ws.close()
(work / "setup.json").write_text(json.dumps({"leads": ids, "loop": backend}))
assert backend == "postgresql", backend
EOF

# 3. two worker processes on one port
say "starting levier serve --workers 2 on 127.0.0.1:$port"
"$levier" serve --workspace "$work/ws" --port "$port" --workers 2 --threads 8 >"$work/serve.log" 2>&1 &
server=$!

# 4. the checks, through both workers
say "exercising both workers"
"$py" - "$work" "$port" <<'EOF' || fail "step 4 (see the message above)"
import json, sys, time, uuid
from pathlib import Path
import httpx

work, port = Path(sys.argv[1]), int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
setup = json.loads((work / "setup.json").read_text())
out: dict = {}
began = time.monotonic()


def note(msg: str) -> None:
    print(f"deploy-smoke [+{time.monotonic() - began:.0f}s in step 4]: {msg}", file=sys.stderr)


def fail(msg: str) -> None:
    note(f"FAILED: {msg}")
    sys.exit(1)


def call(method: str, path: str, cookies: dict | None = None, **kw):
    """One request on a new connection (the kernel hands it to either worker)."""
    with httpx.Client(base_url=base, timeout=60, cookies=cookies) as c:
        r = c.request(method, path, **kw)
    pid = r.headers.get("x-levier-worker")
    if not pid:
        fail(f"{method} {path}: no X-Levier-Worker header (status {r.status_code})")
    return r, pid


def on(pred, method: str, path: str, what: str, tries: int = 400, **kw):
    """Repeat the request until a worker for which ``pred(pid)`` holds answers it."""
    for _ in range(tries):
        r, pid = call(method, path, **kw)
        if pred(pid):
            return r, pid
    fail(f"{what}: no answer from the wanted worker after {tries} tries")


deadline, seen = time.monotonic() + 150, set()
while time.monotonic() < deadline and len(seen) < 2:
    try:
        seen.add(call("GET", "/api/v1/auth/me")[1])
    except httpx.TransportError:
        time.sleep(0.5)
if len(seen) < 2:
    fail(f"two workers did not answer within 150 s (saw {sorted(seen)})")
note(f"workers {sorted(seen)} answer")

# log in on one worker, use the session (cookie + CSRF) on the other
r, a = call("POST", "/api/v1/auth/login", json={"username": "smoke-editor", "password": "smoke-password-2"})
if r.status_code != 200:
    fail(f"login: status {r.status_code}: {r.text[:300]}")
cookies, csrf = dict(r.cookies), r.json()["csrf_token"]
r, b = on(lambda p: p != a, "GET", "/api/v1/auth/me", "session on the other worker", cookies=cookies)
if r.status_code != 200 or r.json()["user"]["username"] != "smoke-editor":
    fail(f"the session made on worker {a} is refused by worker {b}: {r.status_code} {r.text[:300]}")
note(f"logged in on {a}, session accepted by {b}")

# the board rendered by both workers first (any page cache is warm), then an action created on one
for pid in (a, b):
    r, _ = on(lambda p, pid=pid: p == pid, "GET", "/actions", f"board on {pid}", cookies=cookies)
    if r.status_code != 200:
        fail(f"board on worker {pid}: status {r.status_code}")
title = f"Smoke action {uuid.uuid4().hex[:8]}"
body = {"title": title, "owner": "smoke-editor", "due_date": "2027-06-30", "kpi_key": "conversion_rate", "target": 0.2}
r, made_on = call("POST", "/api/v1/actions", json=body, cookies=cookies, headers={"X-CSRF-Token": csrf})
if r.status_code != 201:
    fail(f"create action on worker {made_on}: status {r.status_code}: {r.text[:300]}")
r, other = on(lambda p: p != made_on, "GET", "/actions", "board on the other worker", cookies=cookies)
if title not in r.text:
    fail(f"the action created on worker {made_on} is missing from the board of worker {other}")
note(f"action created on {made_on}, on the board of {other}")

# policy: a lead allowed one SMS on Tuesday 2027-06-08 15:00 UTC; after a posted SMS that day, not any more
at, touched_at = "2027-06-08T15:00:00", "2027-06-08T08:30:00"
lead = None
for cand in setup["leads"]:
    r, _ = call("POST", "/api/v1/policy/check", json={"lead_id": cand, "channel": "sms", "at": at}, cookies=cookies,
                headers={"X-CSRF-Token": csrf})
    if r.status_code != 200:
        fail(f"policy check: status {r.status_code}: {r.text[:300]}")
    if r.json()["decision"] == "allow":
        lead = cand
        break
if lead is None:
    fail("no demo lead may receive an SMS at the test time (policy check never allows)")
touch_id = f"smoke-{uuid.uuid4().hex[:12]}"
r, posted_on = call("POST", "/api/v1/touches", json={"lead_id": lead, "channel": "sms", "at": touched_at, "outcome": "delivered",
                                                    "touch_id": touch_id}, cookies=cookies, headers={"X-CSRF-Token": csrf})
if r.status_code != 201:
    fail(f"post touch on worker {posted_on}: status {r.status_code}: {r.text[:300]}")
decisions = {}
for pid_pred, label in ((lambda p: p != posted_on, "other"), (lambda p: p == posted_on, "same")):
    r, pid = on(pid_pred, "POST", "/api/v1/policy/check", f"policy check on the {label} worker",
                json={"lead_id": lead, "channel": "sms", "at": at}, cookies=cookies, headers={"X-CSRF-Token": csrf})
    if r.status_code != 200 or r.json()["decision"] == "allow":
        fail(f"after a touch posted on worker {posted_on}, worker {pid} still answers {r.text[:300]}")
    decisions[pid] = r.json()["decision"]
r, _ = call("POST", "/api/v1/touches", json={"lead_id": lead, "channel": "sms", "at": touched_at, "touch_id": touch_id},
            cookies=cookies, headers={"X-CSRF-Token": csrf})
if r.status_code != 409:
    fail(f"the same touch id posted twice: expected 409, got {r.status_code}")
note(f"lead {lead}: allow, then a touch posted on {posted_on}, then {decisions}")

# a variant: the same answer from both workers (no session needed)
unit, origin = f"visitor-{uuid.uuid4().hex[:8]}", {"Origin": "https://www.example.com"}
answers = {}
for pred in (lambda p: True, lambda p: p not in answers):
    r, pid = on(pred, "GET", "/api/v1/experiments/smoke-hero/variant", "variant", params={"unit_id": unit}, headers=origin)
    if r.status_code != 200:
        fail(f"variant on worker {pid}: status {r.status_code}: {r.text[:300]}")
    answers[pid] = r.json()["variant"]
if len(answers) != 2 or len(set(answers.values())) != 1:
    fail(f"variants differ between workers: {answers}")
note(f"variant {set(answers.values())} from workers {sorted(answers)}")
(work / "client.json").write_text(json.dumps({"touch_id": touch_id, "lead": lead, "unit": unit, "variant": next(iter(answers.values())),
                                              "workers": sorted(seen)}))
EOF

# the webhook cron job runs beside the workers (it reads the facts read-only)
say "levier loop tick while serving"
"$levier" loop tick --workspace "$work/ws" --json >"$work/tick.json" || fail "levier loop tick failed while the workers serve"

# 5. stop (the server applies queued facts as it stops), then `levier facts flush` and the facts check
say "stopping the server"
stop_server
grep -q "Queued facts applied: " "$work/serve.log" || fail "step 5: levier serve did not apply the queued facts when it stopped"
"$levier" facts flush --workspace "$work/ws" --json >"$work/flush.json" || fail "step 5: levier facts flush failed"
grep -q '"batches": \[\]' "$work/flush.json" || fail "step 5: rows were still queued after the server stopped: $(cat "$work/flush.json")"
"$py" - "$work" <<'EOF' || fail "step 5: the posted facts are not in the facts store"
import json, sys
from pathlib import Path
import duckdb  # plain DuckDB: a light check process

work = Path(sys.argv[1])
got = json.loads((work / "client.json").read_text())
con = duckdb.connect(str(work / "ws" / "facts.duckdb"), read_only=True)
rows = con.execute("SELECT t.lead_id, t.channel, i.file_hash FROM touches t JOIN _imports i ON i.batch_id = t._batch "
                   "WHERE t.touch_id = ?", [got["touch_id"]]).fetchall()
assigned = con.execute("SELECT variant FROM assignments WHERE experiment_key = 'smoke-hero' AND unit_id = ?", [got["unit"]]).fetchall()
if len(rows) != 1 or rows[0][:2] != (got["lead"], "sms"):
    sys.exit(f"deploy-smoke: touch {got['touch_id']} is not in the facts after the flush ({rows})")
if not str(rows[0][2]).startswith("inbox:"):
    sys.exit("deploy-smoke: the touch was not written through the facts inbox (read-only workers should queue it)")
if assigned != [(got["variant"],)]:
    sys.exit(f"deploy-smoke: the assignment of {got['unit']} is not in the facts ({assigned})")
EOF
say "OK: 2 workers (${port}), PostgreSQL loop, session/CSRF, board, policy, variant and facts flush all passed"
