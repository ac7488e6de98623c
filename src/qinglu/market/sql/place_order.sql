-- Reserve part of a listing for a buyer, as market/actions.py's order_in does: the listing
-- row is locked, so concurrent buyers queue on it and it is never oversold. Refusals raise
-- SQLSTATEs QL010-QL015 (and QL001 for an unknown buyer) with the listing's product and a
-- figure in DETAIL; market/on_postgres.py words them with market/views.py's functions.
-- The entry's result is the order as market/views.py's order_view shows it, as on the
-- Python path.

-- Migration 0011's version took the products' decimals as an argument.
DROP FUNCTION IF EXISTS qinglu_place_order(integer, integer, bigint, text, text, text,
                                           timestamptz, interval, numeric, jsonb);

CREATE OR REPLACE FUNCTION qinglu_place_order(
    p_listing integer, p_buyer integer, p_quantity bigint, p_actor text, p_key text,
    p_request text, p_now timestamptz, p_lifetime interval, p_fee_rate numeric
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    lst listings%ROWTYPE;
    order_id integer;
    amount numeric;
    fee numeric;
    expires timestamptz;
    decimals integer;
    appended record;
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
    -- core/money.py's money_amount: price per unit of the product x quantity in base
    -- units, rounded to the fen half up (round() on numeric rounds half away from zero,
    -- which is half up for these positive amounts), and the fee by the same rule.
    decimals := qinglu_product_decimals(lst.product);
    amount := round(lst.price * p_quantity * power(10::numeric, -decimals), 2);
    fee := round(amount * p_fee_rate, 2);
    expires := least(p_now + p_lifetime, lst.expires_at);
    INSERT INTO orders (listing_id, buyer_account, quantity, price, amount, fee, status,
                        expires_at, created_by, created_at)
    VALUES (lst.id, p_buyer, p_quantity, lst.price, amount, fee, 'pending', expires, p_actor,
            now())
    RETURNING id INTO order_id;
    UPDATE listings SET remaining = remaining - p_quantity WHERE id = lst.id;
    -- The result written as canonical JSON directly (keys in code point order, U+0001
    -- for the entry's sequence: see registry/sql/append_entry.sql).
    SELECT * INTO appended FROM qinglu_append_entry(p_actor, 'order', p_key, p_request, '[]',
        '{}', '{"amount":' || to_json(amount::text)::text || ',"buyer_account":' || p_buyer
        || ',"entry":' || chr(1) || ',"expires_at":' || to_json(qinglu_isoformat(expires))::text
        || ',"fee":' || to_json(fee::text)::text || ',"id":' || order_id
        || ',"listing_id":' || lst.id || ',"payment_reference":null,"price":'
        || to_json(qinglu_price_text(lst.price))::text
        || ',"product":' || to_json(lst.product::text)::text
        || ',"quantity":' || to_json(qinglu_format_units(p_quantity, decimals))::text
        || ',"seller_account":' || lst.seller_account
        || ',"serials":[],"status":"pending","voucher_number":null}');
    RETURN appended.result;
END
$fn$;
