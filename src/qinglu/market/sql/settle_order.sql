-- The first half of a payment, as market/actions.py's confirm_payment does it on the
-- Python path: lock the order, its listing and hold, check the order is payable, move the
-- units out of escrow to the buyer. It runs inside the caller's transaction, which then
-- signs the voucher in Python (the registry's key never reaches the database) and calls
-- qinglu_finish_trade. Refusals: QL020-QL024. A repeat with the same payment reference
-- answers `already_settled` and changes nothing.

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
                      settled_at = p_now, serials = to_jsonb(moved.serials)::text
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
        'moves', moved.moves::jsonb, 'parties', parties, 'project', project_name,
        'certificate_id', nextval(pg_get_serial_sequence('certificates', 'id')))::text;
END
$fn$;
