-- Quantities as core/quantities.py defines them: a product's decimals (its base unit is
-- 10^-decimals of its unit), rendered from PRODUCTS for the products the code knows and
-- read from the products table for those an operator added, and base units as decimal
-- text.

-- PL/pgSQL, so that its sub-select is planned once per session, not at every call.
CREATE OR REPLACE FUNCTION qinglu_product_decimals(p_product text) RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $fn$
BEGIN
    RETURN COALESCE({{PRODUCT_DECIMALS}},
                    (SELECT decimals FROM products WHERE code = p_product));
END
$fn$;

-- format_quantity of base units with a product's decimals: 5396 units, 2 -> '53.96';
-- 10 units, 0 -> '10'.
CREATE OR REPLACE FUNCTION qinglu_format_units(p_units bigint, p_decimals integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT round(p_units * power(10::numeric, -p_decimals), p_decimals)::text
$fn$;

-- format_quantity: 5396 units of FCS -> '53.96', 10 of GEC -> '10'.
CREATE OR REPLACE FUNCTION qinglu_format_quantity(p_product text, p_units bigint)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT qinglu_format_units(p_units, qinglu_product_decimals(p_product))
$fn$;
