"""PostgreSQL: a transfer as one server-side function call

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

The Python path (registry/blocks.py) stays the reference and runs on SQLite; on
PostgreSQL a transfer — lock both accounts in id order, take blocks in serial
order with a split of the last, move, merge with same-place neighbours, append
the hash-chained ledger entry — runs inside the server in one round trip. The
same test suite (stateful, concurrency, audit replay) covers both paths.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION qinglu_transfer(
    p_from integer, p_to integer, p_product text, p_quantity bigint, p_project integer,
    p_vintage integer, p_actor text, p_key text, p_request text
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    src_kind text;
    dst_kind text;
    needed bigint := p_quantity;
    blk record;
    nb record;
    moved_id integer;
    moved_start bigint;
    moved_end bigint;
    moves jsonb := '[]'::jsonb;
    serials jsonb := '[]'::jsonb;
    moved_ids integer[] := '{}';
    head record;
    seq bigint;
    result jsonb;
    body text;
    recorded text;
    digest text;
BEGIN
    -- Lock both accounts in id order, as the Python path does.
    PERFORM 1 FROM accounts WHERE id IN (p_from, p_to) ORDER BY id FOR UPDATE;
    SELECT kind INTO src_kind FROM accounts WHERE id = p_from;
    SELECT kind INTO dst_kind FROM accounts WHERE id = p_to;
    IF src_kind IS NULL THEN
        RAISE EXCEPTION 'unknown account' USING ERRCODE = 'QL001', DETAIL = p_from::text;
    END IF;
    IF dst_kind IS NULL THEN
        RAISE EXCEPTION 'unknown account' USING ERRCODE = 'QL001', DETAIL = p_to::text;
    END IF;
    IF src_kind NOT IN ('holding', 'buffer', 'escrow') THEN
        RAISE EXCEPTION 'source kind' USING ERRCODE = 'QL002', DETAIL = src_kind;
    END IF;
    IF dst_kind NOT IN ('holding', 'buffer', 'escrow') THEN
        RAISE EXCEPTION 'destination kind' USING ERRCODE = 'QL003', DETAIL = dst_kind;
    END IF;

    FOR blk IN
        SELECT b.id, b.issuance_id, b.serial_start, b.serial_end, p.region, i.project_id,
               i.vintage
        FROM unit_blocks b
        JOIN issuances i ON i.id = b.issuance_id
        JOIN projects p ON p.id = i.project_id
        WHERE b.account_id = p_from AND b.state = 'held' AND i.product = p_product
          AND (p_project IS NULL OR i.project_id = p_project)
          AND (p_vintage IS NULL OR i.vintage = p_vintage)
        ORDER BY b.issuance_id, b.serial_start
        FOR UPDATE OF b
    LOOP
        EXIT WHEN needed = 0;
        moved_start := blk.serial_start;
        IF blk.serial_end - blk.serial_start + 1 > needed THEN
            moved_end := blk.serial_start + needed - 1;
            UPDATE unit_blocks SET serial_start = moved_end + 1 WHERE id = blk.id;
            INSERT INTO unit_blocks (issuance_id, account_id, serial_start, serial_end, state)
            VALUES (blk.issuance_id, p_to, moved_start, moved_end, 'held')
            RETURNING id INTO moved_id;
        ELSE
            moved_end := blk.serial_end;
            moved_id := blk.id;
            UPDATE unit_blocks SET account_id = p_to, state = 'held', hold_id = NULL,
                   retirement_id = NULL, cancellation_id = NULL
            WHERE id = blk.id;
        END IF;
        needed := needed - (moved_end - moved_start + 1);
        moved_ids := moved_ids || moved_id;
        moves := moves || jsonb_build_array(jsonb_build_array(
            blk.issuance_id, moved_start, moved_end, p_from, p_to, 'held'));
        serials := serials || to_jsonb(format('QL-%s-%s-P%s-%s-%s-%s', p_product, blk.region,
            lpad(blk.project_id::text, 6, '0'), blk.vintage,
            lpad(moved_start::text, 12, '0'), lpad(moved_end::text, 12, '0')));
    END LOOP;
    IF needed > 0 THEN
        RAISE EXCEPTION 'insufficient units' USING ERRCODE = 'QL004',
            DETAIL = (p_quantity - needed)::text;
    END IF;

    -- Merge each moved block with same-place neighbours of its issuance.
    FOREACH moved_id IN ARRAY moved_ids LOOP
        SELECT id, issuance_id, serial_start, serial_end INTO blk
        FROM unit_blocks WHERE id = moved_id;
        CONTINUE WHEN NOT FOUND;  -- absorbed by an earlier merge
        SELECT id, serial_start INTO nb FROM unit_blocks
        WHERE issuance_id = blk.issuance_id AND serial_end = blk.serial_start - 1
          AND account_id = p_to AND state = 'held' AND hold_id IS NULL
          AND retirement_id IS NULL AND cancellation_id IS NULL;
        IF FOUND THEN
            DELETE FROM unit_blocks WHERE id = blk.id;
            UPDATE unit_blocks SET serial_end = blk.serial_end WHERE id = nb.id;
            blk.id := nb.id;
            blk.serial_start := nb.serial_start;
        END IF;
        SELECT id, serial_end INTO nb FROM unit_blocks
        WHERE issuance_id = blk.issuance_id AND serial_start = blk.serial_end + 1
          AND account_id = p_to AND state = 'held' AND hold_id IS NULL
          AND retirement_id IS NULL AND cancellation_id IS NULL;
        IF FOUND THEN
            DELETE FROM unit_blocks WHERE id = nb.id;
            UPDATE unit_blocks SET serial_end = nb.serial_end WHERE id = blk.id;
        END IF;
    END LOOP;

    -- Check the deferred no-overlap constraint now, before taking the ledger-head lock,
    -- so that every other writer does not wait for it at our commit.
    SET CONSTRAINTS ALL IMMEDIATE;
    -- Append the hash-chained entry, exactly as registry/ledger.py hashes it.
    SELECT sequence, hash INTO head FROM ledger_head WHERE id = 1 FOR UPDATE;
    seq := head.sequence + 1;
    result := jsonb_build_object('product', p_product, 'quantity', p_quantity,
        'from_account', p_from, 'to_account', p_to, 'serials', serials, 'id', seq,
        'entry', seq);
    body := jsonb_build_object('request', p_request::jsonb, 'moves', moves,
        'result', result, 'records', '{}'::jsonb)::text;
    recorded := to_char(clock_timestamp() AT TIME ZONE 'UTC',
                        'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"');
    digest := encode(sha256(convert_to('[' || seq || ',' || to_json(recorded)::text || ','
        || to_json(p_actor)::text || ',' || to_json('transfer'::text)::text || ','
        || to_json(coalesce(p_key, ''))::text || ',' || to_json(body)::text || ','
        || to_json(head.hash::text)::text || ']', 'UTF8')), 'hex');
    INSERT INTO ledger_entries (sequence, recorded_at, actor, kind, idempotency_key, body,
                                prev_hash, hash)
    VALUES (seq, recorded, p_actor, 'transfer', p_key, body, head.hash, digest);
    UPDATE ledger_head SET sequence = seq, hash = digest WHERE id = 1;
    RETURN result::text;
END
$fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS qinglu_transfer(integer, integer, text, bigint, "
                   "integer, integer, text, text, text)")
