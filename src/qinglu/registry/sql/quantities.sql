-- Quantities as core/quantities.py defines them: a product's decimals (its base unit is
-- 10^-decimals of its unit), rendered from PRODUCTS, and base units as decimal text.

CREATE OR REPLACE FUNCTION qinglu_product_decimals(p_product text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT {{PRODUCT_DECIMALS}}
$fn$;

-- format_quantity: 5396 units of FCS -> '53.96', 10 of GEC -> '10'.
CREATE OR REPLACE FUNCTION qinglu_format_quantity(p_product text, p_units bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT round(p_units * power(10::numeric, -qinglu_product_decimals(p_product)),
                 qinglu_product_decimals(p_product))::text
$fn$;
