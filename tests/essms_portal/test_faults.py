"""Fault tests (issue #10, findings 3 and 4): a service down never fails a user's action, and
loses nothing.

- Redis stopped (our own ``redis-server`` on a free port, never the shared one): a submission,
  a decision issue, a decision export and a FINESS upload all succeed for the user; their
  e-mails wait in the outbox, their tasks are not published. Redis back, a real Celery worker
  and the periodic sweep deliver every e-mail exactly once, to a real SMTP server of the test,
  and finish the export and the import.
- A PostgreSQL connection terminated in the middle of a transition: the DSFR error page, no
  partial state, the audit hash chain intact.

Every wait is on a condition (rows in the database, a port answering), never on elapsed time,
with generous deadlines that only bound a genuine failure.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from post_office.models import STATUS, Email, Log

from applications.models import Application, Decision, DecisionExport, WorkflowLog
from applications.workflow import Action, Status, verify_chain
from essms_portal.accounts.models import Role
from essms_portal.celery import app
from essms_portal.outbox import email_queue, enqueue
from essms_portal.tasks import ping, sweep
from grappes.models import FinessImportJob
from tests.applications.helpers import ars, cnsa_agent, decided_dossier, submitted_dossier
from tests.factories import (
    ApplicationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)
from tests.grappes.helpers import extract_upload

ROOT = Path(__file__).resolve().parent.parent.parent
DEADLINE = float(os.environ.get("WORKER_TEST_DEADLINE", "300"))
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
MARKER_SUBJECT = "Témoin de fin de file"


def _wait_for(condition: Callable[[], bool], what: str, *, alive: Any = None) -> None:
    """Poll ``condition`` until it holds; fail at the deadline, or at once if ``alive`` (a
    process with ``poll`` and ``output``) died."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"le processus s'est arrêté avant : {what}\n{alive.output()}")
        if time.monotonic() > deadline:
            detail = f"\n{alive.output()}" if alive is not None else ""
            raise AssertionError(f"délai dépassé ({DEADLINE:.0f} s) : {what}{detail}")
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Process:
    """A child process whose output goes to a file (a pipe nobody reads could block it)."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
            )

    def poll(self) -> int | None:
        return self.process.poll()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class RedisServer:
    """Our own redis-server on a free port: stopping it harms nobody else."""

    def __init__(self, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch  # for the environment variables Celery reads
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: Process | None = None

    def ping(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.process = Process(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
            ],
            self.workdir / "redis.log",
        )
        _wait_for(self.ping, f"redis-server sur le port {self.port}", alive=self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        assert not self.ping()


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: every message is kept, parsed, by the server."""

    def _reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self._reply("220 sink ESMTP")
        data: list[bytes] | None = None
        while line := self.rfile.readline():
            if data is not None:
                if line.rstrip(b"\r\n") == b".":
                    raw = b"".join(data)
                    self.server.received.append(  # type: ignore[attr-defined]
                        email.message_from_bytes(raw, policy=email.policy.default)
                    )
                    data = None
                    self._reply("250 OK")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._reply("250-sink")
                self._reply("250 8BITMIME")
            elif verb == b"DATA":
                data = []
                self._reply("354 End data with <CR><LF>.<CR><LF>")
            elif verb == b"QUIT":
                self._reply("221 Bye")
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self._reply("250 OK")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.received: list[email.message.EmailMessage] = []
        self.port = int(self.server_address[1])

    def subjects_by_recipient(self) -> Counter[tuple[str, str]]:
        return Counter((str(m["To"]), str(m["Subject"])) for m in self.received)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _reset_celery_pools() -> None:
    """Forget the producer pools: they hold connections to the previous broker URL."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def own_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """Our own Redis, started; ``_point_celery_at`` points Celery at it for the test."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server n'est pas installé.")
    if connection.vendor != "postgresql":
        pytest.skip("Le worker a besoin de la base PostgreSQL de test.")
    server = RedisServer(tmp_path, monkeypatch)
    server.start()
    previous = (app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend)
    try:
        yield server
    finally:
        app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend = previous
        _reset_celery_pools()
        server.stop()


def _point_celery_at(server: RedisServer, settings: Any) -> None:
    """Celery publishes to ``server`` from now on (not eagerly any more)."""
    settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = server.url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Celery reads these two from the environment first, before its configuration.
    server.monkeypatch.setenv("CELERY_BROKER_URL", server.url)
    server.monkeypatch.setenv("CELERY_RESULT_BACKEND", server.url)
    app.conf.task_always_eager = False
    app.conf.broker_url = app.conf.result_backend = server.url
    _reset_celery_pools()
    assert app.conf.broker_url == server.url


def _start_worker(server: RedisServer, smtp: SmtpServer, log: Path) -> Process:
    """A real Celery worker on our Redis and the test database, delivering by SMTP to ``smtp``."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": server.url,
        "CELERY_RESULT_BACKEND": server.url,
        "REDIS_URL": server.url,
        "OUTBOX_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
    }
    return Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "essms_portal",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        log,
        env,
    )


def _messages(response: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def _queued_since(first_pk: int) -> list[Email]:
    return list(Email.objects.filter(pk__gt=first_pk).order_by("pk"))


@pytest.fixture
def _remove_files() -> Iterator[None]:
    """The worker shares the test storage (another process): remove this test's files."""
    yield
    for decision in Decision.objects.all():
        default_storage.delete(decision.pdf.name)
    for job in DecisionExport.objects.exclude(archive=""):
        default_storage.delete(job.archive.name)
    for finess_job in FinessImportJob.objects.all():
        default_storage.delete(finess_job.file.name)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("_remove_files")
def test_redis_down_the_user_succeeds_and_every_email_leaves_once_when_it_is_back(
    client, settings, own_redis, smtp_server, tmp_path
):
    # Before the fault (eager Celery, as in every test): a dossier ready to submit, with its
    # attachments, and an accepted dossier awaiting its decision.
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    client.force_login(porteur)
    for kind, name in (("convention", "convention.pdf"), ("quote", "devis.pdf")):
        client.post(
            reverse("dossiers:upload", args=[application.pk]),
            {"kind": kind, "file": SimpleUploadedFile(name, PDF)},
        )
    decided = decided_dossier()
    decided_porteur = decided.grappe.porteur.members.get().user
    agent = cnsa_agent()
    first_pk = Email.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    # Celery on our Redis, a connection in its pool, then Redis stops.
    _point_celery_at(own_redis, settings)
    assert enqueue(ping)
    own_redis.stop()
    assert not enqueue(ping)  # the broker is really down for the application

    # The submission: the applicant sees the success, the receipt e-mail waits in the outbox.
    version = Application.objects.get(pk=application.pk).version
    started = time.monotonic()
    response = client.post(reverse("dossiers:submit", args=[application.pk]), {"version": version})
    submit_seconds = time.monotonic() - started
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse("dossiers:receipt", args=[application.pk])
    assert _messages(response)[-1] == (
        "success",
        "Dossier déposé. Votre récépissé est disponible ci-dessous.",
    )
    assert Application.objects.get(pk=application.pk).status == Status.SUBMITTED
    receipt = f"Accusé de dépôt — dossier n° {application.pk}"
    [queued] = _queued_since(first_pk)
    assert (queued.to, queued.subject, queued.status) == ([porteur.email], receipt, STATUS.queued)

    # The decision issue: success shown once, the decision and its letter stored, the
    # applicant's e-mail queued.
    client.force_login(agent)
    started = time.monotonic()
    response = client.post(reverse("decisions:issue", kwargs={"pk": decided.pk}))
    issue_seconds = time.monotonic() - started
    assert response.status_code == 302
    decision = Decision.objects.get(application=decided)
    assert _messages(response)[-1] == (
        "success",
        f"Décision n° {decision.number} émise et notifiée au porteur.",
    )
    assert "error" not in dict(_messages(response))
    # The letter is rendered by a worker after commit: with the broker down it waits, pending,
    # for the sweep (below).
    assert decision.letter_status == Decision.LetterStatus.PENDING
    notified = f"Dossier n° {decided.pk} — {Status.NOTIFIED.label}"
    assert [(e.to, e.subject, e.status) for e in _queued_since(first_pk)][1:] == [
        ([decided_porteur.email], notified, STATUS.queued)
    ]

    # The decision export: the job is recorded, its task waits for the sweep.
    response = client.post(reverse("decisions:export_create"), {})
    job = DecisionExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("decisions:export_detail", kwargs={"pk": job.pk})
    assert job.status == DecisionExport.Status.PENDING
    print(  # a figure for the report (pytest -rP), not an assertion
        f"Redis arrêté : dépôt {submit_seconds:.2f} s, émission de décision {issue_seconds:.2f} s"
    )

    # Redis back, a real worker, and the sweep, twice (as beat would, a minute apart).
    own_redis.start()
    worker = _start_worker(own_redis, smtp_server, tmp_path / "worker.log")
    try:
        for _ in range(2):
            assert enqueue(sweep, older_than_seconds=0, exports_stale_seconds=0)

        def delivered() -> bool:
            job.refresh_from_db()
            assert job.status != DecisionExport.Status.FAILED, job.error
            emails = _queued_since(first_pk)
            assert not [e for e in emails if e.status == STATUS.failed], emails
            return (
                job.status == DecisionExport.Status.DONE
                and Decision.objects.get(pk=decision.pk).letter_status
                == Decision.LetterStatus.READY
                and len(emails) == 3
                and all(e.status == STATUS.sent for e in emails)
            )

        _wait_for(
            delivered, "les e-mails envoyés, la lettre produite et l'export terminé", alive=worker
        )
        # Both sweeps queued a send of the same e-mails (and the export twice); the second
        # copies were published before the first ran. A marker queued now is sent after them
        # (one solo worker, first in first out): once it is out, nothing else is pending.
        marker = email_queue(subject=MARKER_SUBJECT, body="-", recipients=["temoin@example.fr"])
        _wait_for(
            lambda: Email.objects.get(pk=marker.pk).status == STATUS.sent,
            "le témoin de fin de file",
            alive=worker,
        )
    finally:
        worker.stop()

    ready = f"Export de décisions n° {job.pk} prêt"
    assert smtp_server.subjects_by_recipient() == Counter(
        {
            (porteur.email, receipt): 1,
            (decided_porteur.email, notified): 1,
            (agent.email, ready): 1,
            ("temoin@example.fr", MARKER_SUBJECT): 1,
        }
    )
    for sent in _queued_since(first_pk):
        assert list(sent.logs.values_list("status", flat=True)) == [STATUS.sent]
    assert Log.objects.filter(email__pk__gt=first_pk, status=STATUS.failed).count() == 0
    job.refresh_from_db()
    assert job.done == job.total == 1
    decision.refresh_from_db()
    assert default_storage.exists(decision.pdf.name) and decision.pdf_sha256


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("_remove_files")
def test_finess_upload_with_redis_down_is_accepted_and_resumed_by_the_sweep(
    client, settings, own_redis, smtp_server, tmp_path
):
    client.force_login(UserFactory(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True))
    _point_celery_at(own_redis, settings)
    own_redis.stop()
    assert not enqueue(ping)  # the broker is really down for the application

    response = client.post(
        reverse("admin:grappes_finessimportjob_upload"), {"file": extract_upload()}
    )
    job = FinessImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:grappes_finessimportjob_progress", args=[job.pk])
    assert job.status == FinessImportJob.Status.PENDING

    # Its task was never published: once the pending grace is over it no longer blocks a new
    # upload for hours; it gives way to the new one (marked failed, never run twice).
    from grappes.finess.jobs import PENDING_GRACE

    FinessImportJob.objects.filter(pk=job.pk).update(created_at=job.created_at - PENDING_GRACE)
    response = client.post(
        reverse("admin:grappes_finessimportjob_upload"), {"file": extract_upload()}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    superseded, latest = FinessImportJob.objects.order_by("pk")
    assert superseded.status == FinessImportJob.Status.FAILED
    assert "n'avait pas démarré" in superseded.report
    assert latest.status == FinessImportJob.Status.PENDING

    own_redis.start()
    worker = _start_worker(own_redis, smtp_server, tmp_path / "worker.log")
    try:
        assert enqueue(sweep, older_than_seconds=0, exports_stale_seconds=0)

        def finished() -> bool:
            latest.refresh_from_db()
            return latest.status in (FinessImportJob.Status.DONE, FinessImportJob.Status.FAILED)

        _wait_for(finished, "la fin de l'import repris par le balayage", alive=worker)
    finally:
        worker.stop()
    assert latest.status == FinessImportJob.Status.DONE, latest.report
    assert latest.created == 3
    superseded.refresh_from_db()
    assert superseded.status == FinessImportJob.Status.FAILED


# --------------------------------------------------------------------------------------------
# PostgreSQL connection lost in the middle of a transition
# --------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_database_connection_killed_mid_transition_shows_the_error_page_and_keeps_the_chain(
    client,
):
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    client.force_login(instructeur)
    client.raise_request_exception = False
    before = (
        Application.objects.get(pk=application.pk).status,
        Application.objects.get(pk=application.pk).version,
        WorkflowLog.objects.filter(application=application).count(),
        Email.objects.count(),
    )
    killed: list[int] = []

    def kill_after_row_lock(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        """Run the query; right after the dossier's row lock is taken by ``transition()``,
        terminate this very connection from another one, as an operator or a failover
        would. The transition's next query then finds its connection gone."""
        result = execute(sql, params, many, context)
        if not killed and "FOR UPDATE" in sql and '"applications_application"' in sql:
            pid = context["connection"].connection.info.backend_pid
            other = connection.get_new_connection(connection.get_connection_params())
            try:
                other.autocommit = True
                # Waits (up to 60 s) until the backend is really gone: no race with our next query.
                row = other.execute("SELECT pg_terminate_backend(%s, 60000)", [pid]).fetchone()
                assert row == (True,)
            finally:
                other.close()
            killed.append(pid)
        return result

    with connection.execute_wrapper(kill_after_row_lock):
        response = client.post(
            reverse("applications:act", kwargs={"pk": application.pk, "action": Action.TAKE}),
            {"version": before[1], "comment": "", "override_reason": ""},
        )

    assert killed, "le verrou de ligne du dossier n'a pas été pris"
    assert response.status_code == 500
    page = response.content.decode()
    assert "fr-header" in page and "Une erreur est survenue" in page
    assert "Traceback" not in page and "OperationalError" not in page
    # A new connection: nothing of the interrupted transition was kept.
    after = Application.objects.get(pk=application.pk)
    assert (after.status, after.version) == before[:2]
    assert WorkflowLog.objects.filter(application=application).count() == before[2]
    assert Email.objects.count() == before[3]
    entries = list(WorkflowLog.objects.filter(application=application).order_by("pk"))
    assert verify_chain(entries) is None

    # The user tries again: the transition goes through and extends the intact chain.
    response = client.post(
        reverse("applications:act", kwargs={"pk": application.pk, "action": Action.TAKE}),
        {"version": before[1], "comment": "", "override_reason": ""},
    )
    assert response.status_code == 302
    assert Application.objects.get(pk=application.pk).status == Status.IN_REVIEW
    entries = list(WorkflowLog.objects.filter(application=application).order_by("pk"))
    # Taking the dossier also assigns it to the taker: two entries, one chain.
    assert [e.action for e in entries[before[2] :]] == [Action.TAKE, Action.ASSIGN]
    assert verify_chain(entries) is None
