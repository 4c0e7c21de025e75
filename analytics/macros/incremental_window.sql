{#-
  The days an incremental run of stg_events reads and rewrites: the run's UTC day
  (var('run_date'), default today) and the var('lookback_days') days before it, so events that
  arrive a little late (a Pub/Sub redelivery, a device back online) still land in their day.
-#}
{% macro incremental_run_date() -%}
  {%- if var('run_date') -%}
    cast('{{ var("run_date") }}' as date)
  {%- else -%}
    cast({{ dbt.current_timestamp() }} as date)
  {%- endif -%}
{%- endmacro %}

{% macro incremental_window_start() -%}
  cast({{ dbt.dateadd('day', -var('lookback_days'), incremental_run_date()) }} as date)
{%- endmacro %}
