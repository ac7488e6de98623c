-- Human serial numbers exactly as core/serials.py's format_serial writes them: registry,
-- product, region, project, vintage, first and last serial. A number longer than its
-- field's width widens the field (P1000000, a 13-digit serial) and never loses digits,
-- as Python's f"{n:06d}" does; the widths and the registry code come from Python.
-- Every part is text and every operator immutable, so that a call inside a query or a
-- PL/pgSQL expression is inlined (integer || text would be stable, and not inlined).

-- f"{n:0{width}d}": zero-padded to `width` characters, the sign included.
CREATE OR REPLACE FUNCTION qinglu_zero_pad(p_number bigint, p_width integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE WHEN p_number < 0
        THEN '-' || lpad(ltrim(p_number::text, '-'),
                         greatest(p_width - 1, length(p_number::text) - 1), '0')
        ELSE lpad(p_number::text, greatest(p_width, length(p_number::text)), '0') END
$fn$;

CREATE OR REPLACE FUNCTION qinglu_format_serial(
    p_product text, p_region text, p_project bigint, p_vintage integer, p_start bigint,
    p_end bigint
) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT {{REGISTRY_CODE}} || '-' || p_product || '-' || p_region
        || '-P' || qinglu_zero_pad(p_project, {{PROJECT_WIDTH}}) || '-' || p_vintage::text
        || '-' || qinglu_zero_pad(p_start, {{SERIAL_WIDTH}})
        || '-' || qinglu_zero_pad(p_end, {{SERIAL_WIDTH}})
$fn$;
