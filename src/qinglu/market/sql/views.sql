-- How market/views.py shows an order's figures, for the order entry the server path
-- records: its result must be the very order_view the Python path records.

-- core/money.py's price_text: to the fen unless finer, then without trailing zeros
-- (48.5000 -> '48.50', 48.1230 -> '48.123').
CREATE OR REPLACE FUNCTION qinglu_price_text(p_price numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE WHEN round(p_price, 2) = p_price THEN round(p_price, 2)::text
                ELSE trim_scale(p_price)::text END
$fn$;

-- datetime.isoformat() of a UTC moment: microseconds only when there are some
-- (2026-11-26T09:30:00+00:00, 2026-11-26T09:30:00.250000+00:00).
CREATE OR REPLACE FUNCTION qinglu_isoformat(p_moment timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT to_char(p_moment AT TIME ZONE 'UTC',
        CASE WHEN extract(microseconds FROM p_moment AT TIME ZONE 'UTC') % 1000000 = 0
             THEN 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'
             ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"' END)
$fn$;
