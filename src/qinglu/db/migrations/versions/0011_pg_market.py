"""PostgreSQL: market orders and settlements as server-side functions

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

A market trade on the Python path is two ledger writes of some twenty statements
each through the ORM; on PostgreSQL it is now one function call to place the order
and, for the payment, one call that moves the units out of escrow inside an open
transaction, a signature made in Python (the registry's key never reaches the
database), and one call that stores the voucher and appends the ledger entry.

The block movement and the hash-chained append, until now written out inside
`qinglu_transfer` (0006), become the two helpers `qinglu_move_units` and
`qinglu_append_entry`, and `qinglu_transfer` is rewritten on top of them, so the
transfer and the settlement move units and chain entries by the same code. The Python
path (market/service.py, registry/blocks.py, registry/ledger.py) stays the reference
and runs on SQLite; the same tests cover both.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOVE_UNITS = r"""
CREATE OR REPLACE FUNCTION qinglu_move_units(
    p_from integer, p_to integer, p_product text, p_quantity bigint, p_state text,
    p_hold integer, p_project integer, p_vintage integer,
    OUT moves jsonb, OUT serials jsonb
) LANGUAGE plpgsql AS $fn$
DECLARE
    needed bigint := p_quantity;
    blk record;
    nb record;
    moved_id integer;
    moved_start bigint;
    moved_end bigint;
    moved_ids integer[] := '{}';
BEGIN
    moves := '[]'::jsonb;
    serials := '[]'::jsonb;
    -- Take the source's blocks in serial order, splitting the last; the taken part of
    -- a split becomes the new row, so the source's row never changes owner.
    FOR blk IN
        SELECT b.id, b.issuance_id, b.serial_start, b.serial_end, p.region, i.project_id,
               i.vintage
        FROM unit_blocks b
        JOIN issuances i ON i.id = b.issuance_id
        JOIN projects p ON p.id = i.project_id
        WHERE b.account_id = p_from AND b.state = p_state AND i.product = p_product
          AND (p_hold IS NULL OR b.hold_id = p_hold)
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
END
$fn$;
"""

APPEND_ENTRY = r"""
CREATE OR REPLACE FUNCTION qinglu_append_entry(
    p_actor text, p_kind text, p_key text, p_body jsonb
) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
    head record;
    seq bigint;
    result jsonb;
    body text;
    recorded text;
    digest text;
BEGIN
    -- Check the deferred no-overlap constraint now, before taking the ledger-head lock,
    -- so that every other writer does not wait for it at our commit.
    SET CONSTRAINTS ALL IMMEDIATE;
    SELECT sequence, hash INTO head FROM ledger_head WHERE id = 1 FOR UPDATE;
    seq := head.sequence + 1;
    -- As registry/ledger.py does: the result carries its entry, and its id defaults to it.
    result := jsonb_build_object('id', seq) || (p_body -> 'result')
              || jsonb_build_object('entry', seq);
    body := jsonb_set(p_body, '{result}', result)::text;
    recorded := to_char(clock_timestamp() AT TIME ZONE 'UTC',
                        'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"');
    -- Hashed exactly as registry/ledger.py's entry_hash does.
    digest := encode(sha256(convert_to('[' || seq || ',' || to_json(recorded)::text || ','
        || to_json(p_actor)::text || ',' || to_json(p_kind)::text || ','
        || to_json(coalesce(p_key, ''))::text || ',' || to_json(body)::text || ','
        || to_json(head.hash::text)::text || ']', 'UTF8')), 'hex');
    INSERT INTO ledger_entries (sequence, recorded_at, actor, kind, idempotency_key, body,
                                prev_hash, hash)
    VALUES (seq, recorded, p_actor, p_kind, p_key, body, head.hash, digest);
    UPDATE ledger_head SET sequence = seq, hash = digest WHERE id = 1;
    RETURN result;
END
$fn$;
"""

TRANSFER = r"""
CREATE OR REPLACE FUNCTION qinglu_transfer(
    p_from integer, p_to integer, p_product text, p_quantity bigint, p_project integer,
    p_vintage integer, p_actor text, p_key text, p_request text
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    moved record;
BEGIN
    PERFORM qinglu_lock_accounts(p_from, p_to);
    SELECT * INTO moved FROM qinglu_move_units(p_from, p_to, p_product, p_quantity, 'held',
                                                NULL, p_project, p_vintage);
    RETURN qinglu_append_entry(p_actor, 'transfer', p_key, jsonb_build_object(
        'request', p_request::jsonb, 'moves', moved.moves, 'records', '{}'::jsonb,
        'result', jsonb_build_object('product', p_product, 'quantity', p_quantity,
            'from_account', p_from, 'to_account', p_to, 'serials', moved.serials)))::text;
END
$fn$;
"""

LOCK_ACCOUNTS = r"""
CREATE OR REPLACE FUNCTION qinglu_lock_accounts(p_from integer, p_to integer)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    src_kind text;
    dst_kind text;
BEGIN
    -- Lock both accounts in id order, as the Python path does, then check their kinds
    -- (registry/units.py SOURCE_KINDS and DESTINATION_KINDS).
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
        RAISE EXCEPTION 'source kind' USING ERRCODE = 'QL002',
            DETAIL = src_kind || ' ' || p_from;
    END IF;
    IF dst_kind NOT IN ('holding', 'buffer', 'escrow') THEN
        RAISE EXCEPTION 'destination kind' USING ERRCODE = 'QL003',
            DETAIL = dst_kind || ' ' || p_to;
    END IF;
END
$fn$;
"""

# The refusals raise SQLSTATEs QL010-QL016 with the listing's product and a figure in
# DETAIL; market/service.py words them exactly as its Python checks do.
PLACE_ORDER = r"""
CREATE OR REPLACE FUNCTION qinglu_place_order(
    p_listing integer, p_buyer integer, p_quantity bigint, p_actor text, p_key text,
    p_request text, p_now timestamptz, p_lifetime interval, p_fee_rate numeric,
    p_decimals jsonb
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    lst listings%ROWTYPE;
    order_id integer;
    amount numeric;
    fee numeric;
    expires timestamptz;
BEGIN
    SELECT * INTO lst FROM listings WHERE id = p_listing FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown listing' USING ERRCODE = 'QL010';
    END IF;
    IF lst.status <> 'active' OR lst.expires_at <= p_now THEN
        RAISE EXCEPTION 'listing closed' USING ERRCODE = 'QL011', DETAIL = lst.status;
    END IF;
    IF p_buyer = lst.seller_account THEN
        RAISE EXCEPTION 'own listing' USING ERRCODE = 'QL012';
    END IF;
    IF lst.buyer_account IS NOT NULL AND p_buyer <> lst.buyer_account THEN
        RAISE EXCEPTION 'not the agreed buyer' USING ERRCODE = 'QL013';
    END IF;
    IF p_quantity > lst.remaining THEN
        RAISE EXCEPTION 'not enough units' USING ERRCODE = 'QL014',
            DETAIL = lst.product || ' ' || lst.remaining;
    END IF;
    IF p_quantity < lst.min_lot AND p_quantity <> lst.remaining THEN
        RAISE EXCEPTION 'below minimum lot' USING ERRCODE = 'QL015',
            DETAIL = lst.product || ' ' || lst.min_lot;
    END IF;
    PERFORM 1 FROM accounts WHERE id = p_buyer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown account' USING ERRCODE = 'QL001', DETAIL = p_buyer::text;
    END IF;
    -- Price per unit of the product x quantity in base units, to the fen, half up
    -- (round() on numeric rounds half away from zero; amounts are positive).
    amount := round(lst.price * p_quantity
                    * power(10::numeric, -(p_decimals ->> lst.product)::integer), 2);
    fee := round(amount * p_fee_rate, 2);
    expires := least(p_now + p_lifetime, lst.expires_at);
    INSERT INTO orders (listing_id, buyer_account, quantity, price, amount, fee, status,
                        expires_at, created_by, created_at)
    VALUES (lst.id, p_buyer, p_quantity, lst.price, amount, fee, 'pending', expires, p_actor,
            now())
    RETURNING id INTO order_id;
    UPDATE listings SET remaining = remaining - p_quantity WHERE id = lst.id;
    RETURN qinglu_append_entry(p_actor, 'order', p_key, jsonb_build_object(
        'request', p_request::jsonb, 'moves', '[]'::jsonb, 'records', '{}'::jsonb,
        'result', jsonb_build_object('id', order_id, 'listing_id', lst.id,
            'buyer_account', p_buyer, 'seller_account', lst.seller_account,
            'product', lst.product, 'quantity', p_quantity, 'price', lst.price::text,
            'amount', amount::text, 'fee', fee::text, 'status', 'pending',
            'expires_at', to_char(expires AT TIME ZONE 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))))::text;
END
$fn$;
"""

# Runs inside the caller's transaction, which then signs the voucher and calls
# qinglu_finish_trade. Refusals: QL020-QL024.
SETTLE_ORDER = r"""
CREATE OR REPLACE FUNCTION qinglu_settle_order(
    p_order integer, p_reference text, p_now timestamptz
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    ord orders%ROWTYPE;
    lst listings%ROWTYPE;
    hld holds%ROWTYPE;
    moved record;
    parties jsonb;
    project_name text;
BEGIN
    SELECT * INTO ord FROM orders WHERE id = p_order FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown order' USING ERRCODE = 'QL020';
    END IF;
    SELECT * INTO lst FROM listings WHERE id = ord.listing_id FOR UPDATE;
    IF ord.status = 'settled' AND ord.payment_reference = p_reference THEN
        RETURN jsonb_build_object('already_settled', true, 'order', to_jsonb(ord),
                                  'listing', to_jsonb(lst))::text;
    END IF;
    IF ord.status = 'settled' THEN
        RAISE EXCEPTION 'settled with another reference' USING ERRCODE = 'QL021';
    END IF;
    IF ord.status <> 'pending' THEN
        RAISE EXCEPTION 'not payable' USING ERRCODE = 'QL022', DETAIL = ord.status;
    END IF;
    IF ord.expires_at <= p_now THEN
        RAISE EXCEPTION 'payment deadline passed' USING ERRCODE = 'QL023';
    END IF;
    SELECT * INTO hld FROM holds WHERE id = lst.hold_id FOR UPDATE;
    IF hld.status <> 'pending' THEN
        RAISE EXCEPTION 'hold closed' USING ERRCODE = 'QL024',
            DETAIL = hld.id || ' ' || hld.status;
    END IF;
    PERFORM qinglu_lock_accounts(hld.account_id, ord.buyer_account);
    SELECT * INTO moved FROM qinglu_move_units(hld.account_id, ord.buyer_account,
        hld.product, ord.quantity, 'escrow', hld.id, NULL, NULL);
    UPDATE holds SET quantity = quantity - ord.quantity, settled_to = ord.buyer_account,
                     status = CASE WHEN quantity = ord.quantity THEN 'settled' ELSE status END
    WHERE id = hld.id;
    UPDATE orders SET status = 'settled', payment_reference = p_reference,
                      settled_at = p_now, serials = moved.serials::text
    WHERE id = ord.id RETURNING * INTO ord;
    -- A listing sells out when its last reserved units are paid for; one that was
    -- cancelled or expired meanwhile keeps that status.
    IF lst.status = 'active' AND lst.remaining = 0 AND NOT EXISTS (
        SELECT 1 FROM orders WHERE listing_id = lst.id AND status = 'pending' AND id <> ord.id
    ) THEN
        UPDATE listings SET status = 'sold', closed_at = p_now WHERE id = lst.id
        RETURNING * INTO lst;
    END IF;
    SELECT jsonb_object_agg(a.id::text, jsonb_build_object('kind', h.kind, 'name', h.name))
    INTO parties
    FROM accounts a JOIN holders h ON h.id = a.holder_id
    WHERE a.id IN (lst.seller_account, ord.buyer_account);
    SELECT name INTO project_name FROM projects WHERE id = lst.project_id;
    RETURN jsonb_build_object('order', to_jsonb(ord), 'listing', to_jsonb(lst),
        'moves', moved.moves, 'parties', parties, 'project', project_name,
        'certificate_id', nextval(pg_get_serial_sequence('certificates', 'id')))::text;
END
$fn$;
"""

FINISH_TRADE = r"""
CREATE OR REPLACE FUNCTION qinglu_finish_trade(
    p_order integer, p_certificate integer, p_number text, p_facts text, p_signature text,
    p_key_id text, p_actor text, p_key text, p_body text
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    result jsonb;
BEGIN
    INSERT INTO certificates (id, number, kind, order_id, facts, signature, key_id, issued_at)
    VALUES (p_certificate, p_number, 'trade', p_order, p_facts::json, p_signature, p_key_id,
            now());
    result := qinglu_append_entry(p_actor, 'trade', p_key, p_body::jsonb);
    UPDATE orders SET voucher_number = p_number, entry_sequence = (result ->> 'entry')::bigint
    WHERE id = p_order;
    RETURN result::text;
END
$fn$;
"""

NEW_FUNCTIONS = ("qinglu_finish_trade(integer, integer, text, text, text, text, text, text, "
                 "text)", "qinglu_settle_order(integer, text, timestamptz)",
                 "qinglu_place_order(integer, integer, bigint, text, text, text, timestamptz, "
                 "interval, numeric, jsonb)",
                 "qinglu_lock_accounts(integer, integer)",
                 "qinglu_append_entry(text, text, text, jsonb)",
                 "qinglu_move_units(integer, integer, text, bigint, text, integer, integer, "
                 "integer)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in (MOVE_UNITS, APPEND_ENTRY, LOCK_ACCOUNTS, TRANSFER, PLACE_ORDER,
                         SETTLE_ORDER, FINISH_TRADE):
            op.execute(function)


def _transfer_of_0006() -> str:
    path = Path(__file__).with_name("0006_pg_transfer.py")
    spec = importlib.util.spec_from_file_location("qinglu_migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_transfer_of_0006())
        for signature in NEW_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {signature}")
