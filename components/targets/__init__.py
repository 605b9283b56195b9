"""Widgets of the Targets page, one module per tab: the pipeline (with one partner's editor and
timeline), activities and follow-ups, the week against the playbook, letters and the visit
planner. What they show is computed in services/targets_view.py and services/outreach.py.

Every write happens in an `on_click` callback, before the script reruns, so what is drawn next
already shows the change; the callback leaves its message in the "targets" flash slot
(components/feedback.py), which the page shows at its top until the next action. Untrusted
text (provider names, notes typed by staff) only reaches the screen through st.dataframe /
st.text (which never render HTML) or `md_escape`.

Session-state keys (all prefixed, none needed on another page):
- "flash:targets": the last action's message;
- "targets_tab": the open tab (the page runs only that one);
- "targets_table" and "targets_table:ids": the pipeline table's selection, kept by partner id
  (components/selection.py);
- "_w_partner": the partner open in the editor; "_targets_last_selection": the partner ids last
  seen selected (a new single selection opens that partner); "targets_confirm_remove": the
  partner ids waiting for the user to confirm their removal, with the question;
- "pf:<field>:<partner id>": the editor's widgets, plus "pf:token:<id>", the partner's
  `updated_at` when the editor was opened (a save from a stale editor is refused);
- "af:<form>:<field>": the activity forms; "_w_letter_*", "letter_*": the letters tab;
  "_w_route_*": the visit planner.
"""
