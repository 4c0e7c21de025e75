{#-
  json_property(column, key): the value of top-level `key` of the JSON object in `column`, as a
  string (null when the key is missing or the value is not a scalar). Callers cast it with
  dbt.safe_cast. The events' `properties` is a JSON column on BigQuery and a JSON string
  (VARCHAR) on DuckDB; each engine names the extraction differently, hence the dispatch.
-#}
{% macro json_property(column, key) -%}
  {{ return(adapter.dispatch('json_property', 'focus_analytics')(column, key)) }}
{%- endmacro %}

{% macro default__json_property(column, key) -%}
  json_value({{ column }}, '$.{{ key }}')
{%- endmacro %}

{#- BigQuery: JSON_VALUE takes a JSON or a STRING column and returns a scalar as STRING. -#}
{% macro bigquery__json_property(column, key) -%}
  json_value({{ column }}, '$.{{ key }}')
{%- endmacro %}

{#- DuckDB: json_extract_string returns a scalar unquoted (true, 25, hardcore). -#}
{% macro duckdb__json_property(column, key) -%}
  json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}
