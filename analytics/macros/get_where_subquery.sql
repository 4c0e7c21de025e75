{#-
  Data tests with `where: incremental_window` (the staging tests: dbt_project.yml) check only the
  days the run rewrote (macros/incremental_window.sql) on an incremental run: older days were
  checked by the runs that wrote them, and reading all of stg_events for every test would cost
  more than the models (docs/analytics.md, "Cost"). A --full-refresh checks everything. Any other
  `where` is dbt's.
-#}
{% macro get_where_subquery(relation) -%}
  {%- set where = config.get('where', '') -%}
  {%- if where == 'incremental_window' -%}
    {%- if flags.FULL_REFRESH -%}
      {%- do return(relation) -%}
    {%- endif -%}
    {%- set where = 'event_date >= ' ~ incremental_window_start() -%}
  {%- endif -%}
  {%- if where -%}
    {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
  {%- endif -%}
  {%- do return(relation) -%}
{%- endmacro %}
