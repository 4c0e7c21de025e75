{#- Fails on every combination of `combination_of_columns` that more than one row has: the grain
    of a table keyed by several columns (dbt's own `unique` takes one column). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
