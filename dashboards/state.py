"""Every session-state key the dashboard uses, in one place (widget keys are these too)."""

from __future__ import annotations

# who is signed in
USER = "ek_user"                      # dashboards.auth_ui.User of the signed-in person
LOGIN_ERROR = "ek_login_error"
LOGIN_USERNAME = "ek_login_username"  # widget
LOGIN_PASSWORD = "ek_login_password"  # widget

# sidebar filters (widgets)
F_PROGRAMMES = "ek_f_programmes"
F_FORMATS = "ek_f_formats"
F_INSTRUMENTS = "ek_f_instruments"
F_FROM = "ek_f_from"
F_TO = "ek_f_to"

# pairing rules (widgets)
R_MIN_DOSE = "ek_r_min_dose"
R_ENDPOINT = "ek_r_endpoint"
R_FOLLOWUP_WEEKS = "ek_r_followup_weeks"
R_FOLLOWUP_TOL = "ek_r_followup_tolerance"
R_BASE_BEFORE = "ek_r_baseline_before"
R_BASE_AFTER = "ek_r_baseline_after"
R_MIN_DAYS = "ek_r_min_days_between"
R_RECOVERY_FROM = "ek_r_recovery_from"
R_RELIABILITY = "ek_r_reliability_source"
R_PUBLISHED = "ek_r_published_threshold"

PERSISTENT_WIDGETS = (
    F_PROGRAMMES, F_FORMATS, F_INSTRUMENTS, F_FROM, F_TO,
    R_MIN_DOSE, R_ENDPOINT, R_FOLLOWUP_WEEKS, R_FOLLOWUP_TOL, R_BASE_BEFORE, R_BASE_AFTER, R_MIN_DAYS,
    R_RECOVERY_FROM, R_RELIABILITY, R_PUBLISHED,
)
"""Sidebar widgets whose values survive visiting a page that does not draw them."""

# upload page
UP_FILES = "ek_up_files"              # widget: file uploader
UP_PROVIDER = "ek_up_provider"        # widget: provider to upload as (admin)
UP_RESULT = "ek_up_result"            # validated upload waiting to be stored: dashboards.data.CheckedUpload
UP_STORED = "ek_up_stored"            # summary frame of the last stored upload
UP_REPORT_SEVERITY = "ek_up_report_severity"
UP_REPORT_TABLES = "ek_up_report_tables"
UP_REPORT_RULES = "ek_up_report_rules"
UP_REPORT_SEARCH = "ek_up_report_search"
UP_CHECK = "ek_up_check"              # button
UP_STORE = "ek_up_store"              # button
UP_MAP_FILE = "ek_up_map_file"        # widget: a mapping saved last time (JSON), for the mapping step
UP_MAP_PROGRAMME = "ek_up_map_programme"  # widget key prefix (+ file digest): programme of every row, when
                                          # the file does not say
UP_MAP_STORE = "ek_up_map_store"      # button: store the rows read with the proposed mapping
UP_MAP_PROPOSAL = "ek_up_map_proposal"  # (key, MappingProposal or None) of the file uploaded
UP_MAP_DONE = "ek_up_map_done"        # (file digest, validation report) of the mapped file just stored
Q_UPLOAD = "ek_q_upload"              # widget: which upload's quarantine to correct
Q_EDITOR = "ek_q_editor"              # prefix of the quarantine editors (one per table)
Q_RESUBMIT = "ek_q_resubmit"          # button
Q_FILE = "ek_q_file"                  # widget: corrected file
Q_MESSAGE = "ek_q_message"
H_ROLLBACK_ID = "ek_h_rollback_id"
H_ROLLBACK_CONFIRM = "ek_h_rollback_confirm"
H_ROLLBACK = "ek_h_rollback"          # button
H_MESSAGE = "ek_h_message"
T_FORMAT = "ek_t_format"

# analysis pages
SC_INSTRUMENT = "ek_sc_instrument"
WB_INSTRUMENT = "ek_wb_instrument"
FW_FIELD = "ek_fw_field"
FW_INSTRUMENT = "ek_fw_instrument"
CP_SOURCE = "ek_cp_source"
CP_FILES = "ek_cp_files"
CP_INSTRUMENT = "ek_cp_instrument"
CP_MEASURE = "ek_cp_measure"
CP_MODERATOR = "ek_cp_moderator"
EN_PROGRAMME = "ek_en_programme"
RP_TABLE = "ek_rp_table"

# accounts page (admin)
AC_USERNAME = "ek_ac_username"
AC_PASSWORD = "ek_ac_password"
AC_ROLE = "ek_ac_role"
AC_PROVIDERS = "ek_ac_providers"
AC_PROGRAMMES = "ek_ac_programmes"
AC_CREATE = "ek_ac_create"
AC_MESSAGE = "ek_ac_message"
MODELS = "ek_models"                  # widget: show the mixed-model and imputation estimates
FW_WHAT = "ek_fw_what"
RP_PREPARE = "ek_rp_prepare"          # button: build the HTML report
RP_READY = "ek_rp_ready"              # the report was asked for in this session
AC_REMOVE_NAME = "ek_ac_remove_name"
AC_REMOVE_SURE = "ek_ac_remove_sure"
