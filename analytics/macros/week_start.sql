{#-
  week_start(date): the Monday that starts the ISO week of `date`, as a date. dbt.date_trunc('week')
  would do on DuckDB (ISO weeks), but on BigQuery a 'week' starts on Sunday: it needs 'isoweek'.
-#}
{% macro week_start(date) -%}
  {{ return(adapter.dispatch('week_start', 'focus_analytics')(date)) }}
{%- endmacro %}

{% macro default__week_start(date) -%}
  cast({{ dbt.date_trunc('week', date) }} as date)
{%- endmacro %}

{% macro bigquery__week_start(date) -%}
  date_trunc(cast({{ date }} as date), isoweek)
{%- endmacro %}
