"""The `tiaojie` command line (see ../shared/CONTRACT.md). Errors: one line on stderr, exit 1."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from models.enums import Role
from models.tz import CHINA


class CliError(Exception):
    """A failure to report as one line on stderr."""


def _engine():
    from models.db import get_engine

    return get_engine()


def cmd_init(args: argparse.Namespace) -> int:
    from models.migrate import upgrade
    from models.settings import get_settings

    settings = get_settings()
    settings.ensure_data_dir()
    # Migrations run as the owner (TIAOJIE_MIGRATE_DATABASE_URL) when the app connects as a lesser role.
    migrate_url = settings.migrate_database_url or settings.effective_database_url
    upgrade(migrate_url)
    print(f"数据库已就绪：{_redacted(migrate_url)}")
    print(_signing_certificate_line(settings))
    if settings.app_db_role:
        from models.audit_chain import grant_app_role
        from models.db import make_engine

        owner = make_engine(migrate_url)
        try:
            for line in grant_app_role(owner, settings.app_db_role):
                print(line)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        finally:
            owner.dispose()
    if args.demo:
        from ops.demo import load_demo

        for line in load_demo(_engine()):
            print(line)
    return 0


def _signing_certificate_line(settings) -> str:
    """The certificate every issued PDF is signed with: TIAOJIE_SIGNING_CERT, else a self-signed one made
    now in the data dir (kept: documents already issued name it)."""
    from documents.signing import make_self_signed, self_signed_path, signer

    if settings.signing_cert:
        try:
            signer(settings)
        except (OSError, ValueError) as exc:
            raise CliError(f"TIAOJIE_SIGNING_CERT 无法使用：{exc}") from exc
        return f"文书签名证书：{settings.signing_cert}"
    path = self_signed_path(settings)
    made = make_self_signed(path, common_name=settings.center_name)
    return f"文书签名证书（自签名{'，已生成' if made else ''}）：{path}"


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _is_loopback(host: str | None) -> bool:
    import ipaddress

    if not host:
        return False
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def public_url_warning(listen_host: str, public_base_url: str) -> str | None:
    """The warning `serve` prints when others can reach the server but the printed QR codes and verify links
    (TIAOJIE_PUBLIC_BASE_URL) still point to this machine itself."""
    from urllib.parse import urlsplit

    if _is_loopback(listen_host) or not _is_loopback(urlsplit(public_base_url).hostname):
        return None
    return (
        f"tiaojie: 警告：监听 {listen_host}，但 TIAOJIE_PUBLIC_BASE_URL 仍是本机地址 {public_base_url}，"
        "打印的二维码和核验链接在其他设备上打不开；请设为对外访问地址"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from models.settings import get_settings, record_listen_address

    record_listen_address(args.host, args.port)
    # First, before the slow imports and the server's own output: the operator sees it.
    warning = public_url_warning(args.host, get_settings().public_base_url)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    if get_settings().document_renderer == "plain":
        print(
            "tiaojie: 警告：文书以纯文本方式生成（TIAOJIE_DOCUMENT_RENDERER=plain，仅供测试），不可打印使用",
            file=sys.stderr,
            flush=True,
        )

    import signal
    import time

    from runtime.prefect_env import start_embedded_server, stop_embedded_server
    from runtime.relay import server_mode

    # Embedded mode: Prefect's server starts now, alongside the imports below, not at the first action.
    started = time.monotonic()
    if not server_mode():
        start_embedded_server()

    import uvicorn

    from api.main import behind_proxies, create_app
    from runtime.serve import start_embedded_scheduler

    app = create_app()
    # Server mode: the workers claim the outbox rows from the database; serve only commits them.
    scheduler = None if server_mode() else start_embedded_scheduler(app.state.engine)
    if scheduler is not None:
        # Listen once flows can run, so the first action after start has its documents in seconds.
        print("tiaojie: 正在启动流程引擎……", file=sys.stderr, flush=True)
        # The jobs missed while down run first too (bounded): they would compete with the first action.
        if scheduler.relay.ready.wait(180) and scheduler.first_pass.wait(60):
            print(
                f"tiaojie: 流程引擎已就绪（{time.monotonic() - started:.1f} 秒）", file=sys.stderr, flush=True
            )
        else:
            print("tiaojie: 警告：流程引擎尚未就绪，文书将在其就绪后生成", file=sys.stderr, flush=True)

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(0)

    # uvicorn shuts down on SIGTERM/SIGINT, restores the handlers it found and raises the signal again:
    # with these, that ends in the `finally` below (the relay and Prefect's server stopped) instead of
    # the default action killing the process on the spot.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        uvicorn.run(
            behind_proxies(app),
            host=args.host,
            port=args.port,
            log_level="info",
            # No dictConfig: uvicorn's would flush Prefect's log handlers while holding logging's lock, a
            # deadlock with the relay threads logging meanwhile (serve hung before listening). Prefect's
            # logging setup already sends the "uvicorn" loggers to the console.
            log_config=None,
            # Forwarded headers only from TIAOJIE_TRUSTED_PROXIES (behind_proxies), not uvicorn's default
            # of trusting 127.0.0.1.
            proxy_headers=False,
        )
    finally:
        if scheduler is not None:
            scheduler.stop()
        stop_embedded_server()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from runtime.relay import server_mode
    from runtime.serve import run_worker

    if not server_mode():
        raise CliError("tiaojie worker 需要设置 PREFECT_API_URL（嵌入模式下由 tiaojie serve 运行流程）")
    # Runs taken from our database, each flow run in this process and reported to the Prefect server.
    run_worker(_engine())
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from models.users import create_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if not password:
        raise CliError("请通过 --password-stdin 从标准输入提供密码")
    from models.db import session_scope

    with session_scope(_engine(), write=True) as session:
        user = create_user(
            session=session,
            username=args.name,
            password=password,
            role=args.role,
            expert_id=args.expert_id,
            level=args.level,
            town=args.town,
            display_name=args.display_name,
        )
    print(f"已创建用户 {user.username}（{user.role}，id={user.id}）")
    return 0


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        now = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CliError(f"--now 不是合法的 ISO 8601 时间：{value}") from exc
    if now.tzinfo is None:
        # A bare local time at the center means China time.
        now = now.replace(tzinfo=CHINA)
    return now.astimezone(UTC)


def cmd_sweep(args: argparse.Namespace) -> int:
    from flows.escalation import run_sweep
    from runtime.relay import after_commit

    result = run_sweep(_engine(), now=_parse_now(args.now))
    after_commit()
    if not result:
        print("没有需要督办的案件")
    for item in result:
        print(
            f"案件 {item['case_no']}（id={item['case_id']}）："
            f"{item['from_level']} → {item['to_level']}  {item['reason']}"
        )
    return 0


def cmd_experts_import(args: argparse.Namespace) -> int:
    from documents.spreadsheets import import_experts

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"找不到文件：{path}")
    report = import_experts(_engine(), path)
    # The row report goes to stdout: stderr carries only the one line of a failure (CONTRACT).
    for line_no, reason in report.errors:
        print(f"第 {line_no} 行：{reason}")
    print(f"导入 {report.accepted} 名专家，{len(report.errors)} 行有误")
    if report.accepted == 0:
        raise CliError("没有导入任何专家")
    return 0


def cmd_export_ledger(args: argparse.Namespace) -> int:
    from documents.spreadsheets import export_ledger

    count = export_ledger(_engine(), Path(args.out), date_from=args.date_from, date_to=args.date_to)
    print(f"已导出 {count} 件案件到 {args.out}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from ops.backup import BackupError, backup

    try:
        manifest = backup(Path(args.out), now=datetime.now(UTC))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    counts = manifest["counts"]
    print(
        f"已备份到 {args.out}：{counts.get('cases', 0)} 件案件、{counts.get('documents', 0)} 份文书"
        f"（{manifest['database']['kind']}，共 {len(manifest['members'])} 个文件）"
    )
    for name in manifest["skipped_exports"]:
        print(f"未备份已不存在的导出文件：{name}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from ops.backup import BackupError, restore

    try:
        result = restore(Path(args.file), force=args.force, now=datetime.now(UTC))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(
        f"已从 {args.file}（{result.manifest['created_at']}）恢复：{result.counts.get('cases', 0)} 件案件、"
        f"{result.counts.get('documents', 0)} 份文书"
    )
    print(result.audit)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from flows.audit_anchor import verify_with_anchors
    from models.audit_chain import AnchorError
    from models.settings import get_settings
    from ops.backup import BackupError, manifest_anchor

    try:
        extra = [a for a in (manifest_anchor(Path(f)) for f in args.backup) if a is not None]
        report = verify_with_anchors(_engine(), get_settings().ensure_data_dir(), extra)
    except (AnchorError, BackupError) as exc:
        raise CliError(f"审计日志无法校验：{exc}") from None
    if not report.intact:
        raise CliError(report.line())
    print(report.line())
    return 0


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    from flows.audit_anchor import AnchorRefused, anchor
    from models.audit_chain import AnchorError

    try:
        kept = anchor(_engine(), now=_parse_now(args.now))
    except (AnchorRefused, AnchorError) as exc:
        raise CliError(str(exc)) from None
    print(f"已写外部锚点 {kept.source}：共 {kept.n} 条记录，链尾哈希 {kept.last_hash}")
    return 0


def cmd_rollups_rebuild(args: argparse.Namespace) -> int:
    from models.audit import record
    from models.db import session_scope
    from models.rollups import rebuild

    # One transaction: the counters are replaced together with the audit row, or not at all.
    with session_scope(_engine(), write=True) as session:
        report = rebuild(session.connection())
        record(
            session,
            actor_id=None,
            actor_name="cli",
            action="rollups.rebuild",
            entity="rollups",
            entity_id=None,
            after={"cases": report.cases, "rows": report.rows, "corrected": report.corrected},
        )
    print(report.line())
    return 0


def cmd_parties_rehash(args: argparse.Namespace) -> int:
    from models.audit import record
    from models.db import session_scope
    from models.party_lookup import rehash_all

    # After TIAOJIE_SECRET_KEY changed: the search by ID number or phone finds nothing until this runs.
    with session_scope(_engine(), write=True) as session:
        n = rehash_all(session.connection())
        record(
            session,
            actor_id=None,
            actor_name="cli",
            action="parties.rehash",
            entity="parties",
            entity_id=None,
            after={"parties": n},
        )
    print(f"已按当前密钥重新计算 {n} 名当事人的证件号、电话检索摘要")
    return 0


def _date(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD：{value}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiaojie", description="矛调中心案件系统")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="创建或迁移数据库")
    p.add_argument("--demo", action="store_true", help="载入演示数据（勿用于生产）")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", help="启动网页和 API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="服务器模式：从数据库领取并运行全部流程（含定时任务）")
    p.set_defaults(func=cmd_worker)

    user = sub.add_parser("user", help="用户管理").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", help="新增用户")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("--expert-id", type=int)
    p.add_argument("--level", type=int, choices=[1, 2, 3])
    p.add_argument("--town")
    p.add_argument("--display-name")
    p.set_defaults(func=cmd_user_add)

    p = sub.add_parser("sweep", help="按给定时间运行一次督办扫描")
    p.add_argument("--now")
    p.set_defaults(func=cmd_sweep)

    experts = sub.add_parser("experts", help="专家库").add_subparsers(dest="experts_command", required=True)
    p = experts.add_parser("import", help="从 CSV 或 XLSX 导入专家库")
    p.add_argument("file")
    p.set_defaults(func=cmd_experts_import)

    audit = sub.add_parser("audit", help="审计日志").add_subparsers(dest="audit_command", required=True)
    p = audit.add_parser("verify", help="校验审计日志的哈希链、签名和外部锚点，指出第一条被篡改的记录")
    p.add_argument(
        "--backup", action="append", default=[], metavar="FILE", help="也以该备份清单中的锚点为准（可多次）"
    )
    p.set_defaults(func=cmd_audit_verify)
    p = audit.add_parser("anchor", help="校验后把审计日志的条数和链尾哈希签名写入文书档案（库外）")
    p.add_argument("--now", help="锚点时间（ISO 8601，默认当前时间）")
    p.set_defaults(func=cmd_audit_anchor)

    p = sub.add_parser("rollups", help="看板统计汇总")
    rollups = p.add_subparsers(dest="rollups_command", required=True)
    p = rollups.add_parser("rebuild", help="从案件表重新计算看板统计汇总（一个事务）")
    p.set_defaults(func=cmd_rollups_rebuild)

    p = sub.add_parser("parties", help="当事人")
    parties = p.add_subparsers(dest="parties_command", required=True)
    p = parties.add_parser("rehash", help="更换密钥后重新计算证件号、电话的检索摘要（一个事务）")
    p.set_defaults(func=cmd_parties_rehash)

    export = sub.add_parser("export", help="导出").add_subparsers(dest="export_command", required=True)
    p = export.add_parser("ledger", help="导出案件台账（XLSX）")
    p.add_argument("--out", required=True)
    p.add_argument("--from", dest="date_from", type=_date)
    p.add_argument("--to", dest="date_to", type=_date)
    p.set_defaults(func=cmd_export_ledger)

    p = sub.add_parser("backup", help="备份数据库、文书档案和密钥到一个文件")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="从备份文件恢复（目标数据库非空时须加 --force）")
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="覆盖已有数据的数据库")
    p.set_defaults(func=cmd_restore)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.func in (cmd_serve, cmd_worker):
        from runtime.memory import limit_arenas

        # Before any thread starts (relay, web server pool, Prefect's API): see runtime.memory.
        limit_arenas()
    # Prefect reads its settings when first imported; nothing imported so far has imported it.
    from runtime.prefect_env import configure

    configure()
    from models.lifecycle import DomainError

    try:
        return args.func(args)
    except CliError as exc:
        print(f"tiaojie: {exc}", file=sys.stderr)
    except DomainError as exc:
        print(f"tiaojie: {exc.message}", file=sys.stderr)
    except Exception as exc:  # one clear line, never a traceback, for operators
        print(f"tiaojie: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
