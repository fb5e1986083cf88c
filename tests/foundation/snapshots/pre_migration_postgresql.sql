-- The warehouse schema as Warehouse.init_schema made it on PostgreSQL before migrations existed (main at
-- 0d94ffc; tables, partitioned parents, RLS and policies), as pg_dump --schema-only --no-owner --no-privileges.
-- Made by the pre-migration code; never edit: it is the release being upgraded.
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    id character varying(32) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    label character varying(128),
    hash character varying(256) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone
);

ALTER TABLE ONLY public.api_keys FORCE ROW LEVEL SECURITY;


--
-- Name: decision_traces; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.decision_traces (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    feature_window_id character varying(64) NOT NULL,
    symbol character varying(64) NOT NULL,
    window_start bigint NOT NULL,
    window_end bigint NOT NULL,
    router_version character varying(64) NOT NULL,
    gate_scores json NOT NULL,
    selected_experts json NOT NULL,
    expert_actions json NOT NULL,
    blended_action character varying(16) NOT NULL,
    blended_confidence double precision NOT NULL,
    blended_score double precision DEFAULT 0 NOT NULL,
    risk_flags json NOT NULL,
    embedding json NOT NULL,
    content_hash character varying(64) NOT NULL,
    edgar_window_id character varying(64),
    lineage_batch character varying(64),
    experts_used bigint,
    inserted_at timestamp with time zone NOT NULL
)
PARTITION BY RANGE (window_start);

ALTER TABLE ONLY public.decision_traces FORCE ROW LEVEL SECURITY;


--
-- Name: drift_profiles; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.drift_profiles (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    name character varying(128) NOT NULL,
    feature_schema_version character varying(32) NOT NULL,
    n_bins integer NOT NULL,
    epsilon double precision NOT NULL,
    n_features integer NOT NULL,
    profile jsonb NOT NULL,
    content_hash character varying(64) NOT NULL,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.drift_profiles FORCE ROW LEVEL SECURITY;


--
-- Name: drift_reports; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.drift_reports (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    profile_name character varying(128) NOT NULL,
    profile_hash character varying(64) NOT NULL,
    feature_schema_version character varying(32) NOT NULL,
    scope character varying(64) NOT NULL,
    feature character varying(128) NOT NULL,
    psi double precision,
    ks_statistic double precision,
    ks_pvalue double precision,
    status character varying(8) NOT NULL,
    n_baseline bigint NOT NULL,
    n_current bigint NOT NULL,
    detail jsonb NOT NULL,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.drift_reports FORCE ROW LEVEL SECURITY;


--
-- Name: edgar_downloads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.edgar_downloads (
    id character varying(200) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    kind character varying(16) NOT NULL,
    cik bigint NOT NULL,
    accession character varying(32),
    form character varying(16),
    filing_date character varying(10),
    accepted_at bigint,
    seq integer NOT NULL,
    url text NOT NULL,
    dest text NOT NULL,
    status character varying(8) NOT NULL,
    attempts integer NOT NULL,
    claimed_by character varying(128),
    claimed_us bigint,
    etag text,
    last_modified text,
    sha256 character varying(64),
    bytes bigint,
    http_status integer,
    last_error text,
    created_us bigint NOT NULL,
    done_us bigint
);

ALTER TABLE ONLY public.edgar_downloads FORCE ROW LEVEL SECURITY;


--
-- Name: evaluation_metrics; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.evaluation_metrics (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    scope character varying(64) NOT NULL,
    actor character varying(128) NOT NULL,
    version character varying(64) NOT NULL,
    basis character varying(16) NOT NULL,
    cost_model character varying(64) NOT NULL,
    n bigint NOT NULL,
    n_positions bigint NOT NULL,
    hit_rate double precision,
    ic double precision,
    turnover double precision,
    max_drawdown double precision,
    gross double precision NOT NULL,
    cost double precision NOT NULL,
    net double precision NOT NULL,
    detail jsonb,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.evaluation_metrics FORCE ROW LEVEL SECURITY;


--
-- Name: experts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.experts (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    name character varying(128) NOT NULL,
    registered_model character varying(256) NOT NULL,
    version character varying(32) NOT NULL,
    alias character varying(32),
    status character varying(16) NOT NULL,
    latency_budget_ms double precision NOT NULL,
    meta jsonb,
    inserted_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.experts FORCE ROW LEVEL SECURITY;


--
-- Name: export_jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.export_jobs (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    slice_name character varying(128) NOT NULL,
    spec jsonb NOT NULL,
    manifest jsonb,
    path text,
    status character varying(16) NOT NULL,
    rows bigint,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.export_jobs FORCE ROW LEVEL SECURITY;


--
-- Name: feature_windows; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.feature_windows (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    kind character varying(16) NOT NULL,
    key character varying(64) NOT NULL,
    window_start bigint NOT NULL,
    window_end bigint NOT NULL,
    available_at bigint NOT NULL,
    feature_schema_version character varying(32) NOT NULL,
    recipe_version character varying(128) NOT NULL,
    status character varying(16) NOT NULL,
    features jsonb NOT NULL,
    provenance jsonb NOT NULL,
    label_spec jsonb,
    content_hash character varying(64) NOT NULL,
    inserted_at timestamp with time zone NOT NULL
)
PARTITION BY RANGE (window_start);

ALTER TABLE ONLY public.feature_windows FORCE ROW LEVEL SECURITY;


--
-- Name: flow_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.flow_state (
    id character varying(128) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    state jsonb NOT NULL,
    revision bigint NOT NULL,
    updated_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.flow_state FORCE ROW LEVEL SECURITY;


--
-- Name: labels; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.labels (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    feature_window_id character varying(64) NOT NULL,
    symbol character varying(64) NOT NULL,
    month character varying(7) NOT NULL,
    window_start bigint NOT NULL,
    window_end bigint NOT NULL,
    available_at bigint NOT NULL,
    spec_id character varying(32) NOT NULL,
    spec jsonb NOT NULL,
    horizon integer NOT NULL,
    label_type character varying(8) NOT NULL,
    status character varying(8) NOT NULL,
    filled boolean NOT NULL,
    fwd_return double precision,
    label character varying(8),
    realised_at bigint,
    latency_us bigint,
    entry_spread_bps double precision,
    exit_spread_bps double precision,
    filled_at timestamp with time zone,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.labels FORCE ROW LEVEL SECURITY;


--
-- Name: landed_content; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.landed_content (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    kind character varying(16) NOT NULL,
    stored_path text NOT NULL,
    size bigint NOT NULL,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.landed_content FORCE ROW LEVEL SECURITY;


--
-- Name: landing_files; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.landing_files (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    kind character varying(16) NOT NULL,
    path text NOT NULL,
    format character varying(32) NOT NULL,
    size bigint NOT NULL,
    partitions jsonb NOT NULL,
    status character varying(16) NOT NULL,
    detail text,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.landing_files FORCE ROW LEVEL SECURITY;


--
-- Name: lineage_edges; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lineage_edges (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    from_kind character varying(32) NOT NULL,
    from_id character varying(256) NOT NULL,
    to_kind character varying(32) NOT NULL,
    to_id character varying(256) NOT NULL,
    relation character varying(32) NOT NULL,
    meta jsonb,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.lineage_edges FORCE ROW LEVEL SECURITY;


--
-- Name: lineage_ranges; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lineage_ranges (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    node_kind character varying(32) NOT NULL,
    node_id character varying(256) NOT NULL,
    node_end character varying(4) NOT NULL,
    relation character varying(32) NOT NULL,
    batch_id character varying(64) NOT NULL,
    "bit" integer,
    first_trace_id character varying(64) NOT NULL,
    last_trace_id character varying(64) NOT NULL,
    traces bigint NOT NULL,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.lineage_ranges FORCE ROW LEVEL SECURITY;


--
-- Name: outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox (
    id character varying(200) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    kind character varying(16) NOT NULL,
    ref_id character varying(64) NOT NULL,
    ref_hash character varying(64) NOT NULL,
    symbol character varying(64) NOT NULL,
    subject character varying(256) NOT NULL,
    payload text NOT NULL,
    status character varying(8) NOT NULL,
    attempts integer NOT NULL,
    next_attempt_us bigint NOT NULL,
    last_error text,
    created_us bigint NOT NULL,
    sent_us bigint
);

ALTER TABLE ONLY public.outbox FORCE ROW LEVEL SECURITY;


--
-- Name: partition_steps; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.partition_steps (
    tenant_id character varying(64) NOT NULL,
    kind character varying(16) NOT NULL,
    partition_key character varying(160) NOT NULL,
    step character varying(64) NOT NULL,
    inputs character varying(64) NOT NULL,
    files integer NOT NULL,
    committed_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.partition_steps FORCE ROW LEVEL SECURITY;


--
-- Name: pnl; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pnl (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    decision_trace_id character varying(64) NOT NULL,
    feature_window_id character varying(64) NOT NULL,
    symbol character varying(64) NOT NULL,
    month character varying(7) NOT NULL,
    window_start bigint NOT NULL,
    router_version character varying(64) NOT NULL,
    cost_model character varying(64) NOT NULL,
    horizon integer NOT NULL,
    action character varying(16) NOT NULL,
    confidence double precision NOT NULL,
    "position" double precision NOT NULL,
    fwd_return double precision NOT NULL,
    gross double precision NOT NULL,
    cost double precision NOT NULL,
    net double precision NOT NULL,
    attribution jsonb NOT NULL,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.pnl FORCE ROW LEVEL SECURITY;


--
-- Name: promotion_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.promotion_events (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    expert character varying(128) NOT NULL,
    registered_model character varying(256) NOT NULL,
    version character varying(32) NOT NULL,
    from_state character varying(16) NOT NULL,
    to_state character varying(16) NOT NULL,
    decision character varying(16) NOT NULL,
    previous_champion character varying(32),
    champion_after character varying(32),
    actor character varying(128) NOT NULL,
    reason text NOT NULL,
    metrics jsonb NOT NULL,
    mlflow_run_id character varying(64),
    at_us bigint NOT NULL,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.promotion_events FORCE ROW LEVEL SECURITY;


--
-- Name: quarantine; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.quarantine (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    stage character varying(32) NOT NULL,
    source text NOT NULL,
    row_number bigint,
    field character varying(128),
    reason text NOT NULL,
    raw text,
    partition_key character varying(64),
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.quarantine FORCE ROW LEVEL SECURITY;


--
-- Name: raw_edgar_docs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.raw_edgar_docs (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    cik bigint NOT NULL,
    accession character varying(96) NOT NULL,
    form character varying(16) NOT NULL,
    doc_kind character varying(32) NOT NULL,
    company_name text,
    period_of_report character varying(10),
    filed_date character varying(10),
    accepted_at bigint NOT NULL,
    month character varying(7) NOT NULL,
    source text,
    amends character varying(96),
    sections jsonb,
    xbrl jsonb,
    meta jsonb,
    content_hash character varying(64) NOT NULL,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.raw_edgar_docs FORCE ROW LEVEL SECURITY;


--
-- Name: raw_tick_batches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.raw_tick_batches (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    venue character varying(32) NOT NULL,
    symbol character varying(64) NOT NULL,
    month character varying(7) NOT NULL,
    source character varying(32) NOT NULL,
    source_file text NOT NULL,
    path text NOT NULL,
    seq_min bigint NOT NULL,
    seq_max bigint NOT NULL,
    ts_min bigint NOT NULL,
    ts_max bigint NOT NULL,
    rows bigint NOT NULL,
    sha256 character varying(64) NOT NULL,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.raw_tick_batches FORCE ROW LEVEL SECURITY;


--
-- Name: router_configs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.router_configs (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    version character varying(64) NOT NULL,
    parent_version character varying(64),
    config jsonb NOT NULL,
    gates jsonb NOT NULL,
    experts jsonb NOT NULL,
    reason text,
    is_active boolean NOT NULL,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.router_configs FORCE ROW LEVEL SECURITY;


--
-- Name: signal_evaluations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.signal_evaluations (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    run_id character varying(64) NOT NULL,
    fold integer NOT NULL,
    train_start bigint NOT NULL,
    train_end bigint NOT NULL,
    test_start bigint NOT NULL,
    test_end bigint NOT NULL,
    model character varying(128) NOT NULL,
    horizon_ms integer NOT NULL,
    n bigint NOT NULL,
    rank_ic double precision,
    rank_ic_lo double precision,
    rank_ic_hi double precision,
    ic double precision,
    ic_lo double precision,
    ic_hi double precision,
    hit_rate double precision,
    turnover double precision,
    net_bps double precision,
    null_band double precision,
    detail jsonb,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.signal_evaluations FORCE ROW LEVEL SECURITY;


--
-- Name: telemetry_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.telemetry_events (
    id character varying(64) NOT NULL,
    tenant_id character varying(64) NOT NULL,
    name character varying(128) NOT NULL,
    value double precision NOT NULL,
    ts bigint NOT NULL,
    tags jsonb,
    inserted_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.telemetry_events FORCE ROW LEVEL SECURITY;


--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: decision_traces decision_traces_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.decision_traces
    ADD CONSTRAINT decision_traces_pkey PRIMARY KEY (id, tenant_id, window_start);


--
-- Name: drift_profiles drift_profiles_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.drift_profiles
    ADD CONSTRAINT drift_profiles_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: drift_reports drift_reports_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.drift_reports
    ADD CONSTRAINT drift_reports_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: edgar_downloads edgar_downloads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.edgar_downloads
    ADD CONSTRAINT edgar_downloads_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: evaluation_metrics evaluation_metrics_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.evaluation_metrics
    ADD CONSTRAINT evaluation_metrics_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: experts experts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.experts
    ADD CONSTRAINT experts_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: export_jobs export_jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.export_jobs
    ADD CONSTRAINT export_jobs_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: feature_windows feature_windows_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feature_windows
    ADD CONSTRAINT feature_windows_pkey PRIMARY KEY (id, tenant_id, window_start);


--
-- Name: flow_state flow_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.flow_state
    ADD CONSTRAINT flow_state_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: labels labels_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.labels
    ADD CONSTRAINT labels_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: landed_content landed_content_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.landed_content
    ADD CONSTRAINT landed_content_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: landing_files landing_files_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.landing_files
    ADD CONSTRAINT landing_files_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: lineage_edges lineage_edges_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lineage_edges
    ADD CONSTRAINT lineage_edges_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: lineage_ranges lineage_ranges_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lineage_ranges
    ADD CONSTRAINT lineage_ranges_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: partition_steps partition_steps_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.partition_steps
    ADD CONSTRAINT partition_steps_pkey PRIMARY KEY (tenant_id, kind, partition_key, step);


--
-- Name: pnl pnl_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pnl
    ADD CONSTRAINT pnl_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: promotion_events promotion_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.promotion_events
    ADD CONSTRAINT promotion_events_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: quarantine quarantine_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.quarantine
    ADD CONSTRAINT quarantine_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: raw_edgar_docs raw_edgar_docs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.raw_edgar_docs
    ADD CONSTRAINT raw_edgar_docs_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: raw_tick_batches raw_tick_batches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.raw_tick_batches
    ADD CONSTRAINT raw_tick_batches_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: router_configs router_configs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.router_configs
    ADD CONSTRAINT router_configs_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: signal_evaluations signal_evaluations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.signal_evaluations
    ADD CONSTRAINT signal_evaluations_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: telemetry_events telemetry_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telemetry_events
    ADD CONSTRAINT telemetry_events_pkey PRIMARY KEY (id, tenant_id);


--
-- Name: drift_profiles uq_drift_profiles_name; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.drift_profiles
    ADD CONSTRAINT uq_drift_profiles_name UNIQUE (tenant_id, name, feature_schema_version);


--
-- Name: router_configs uq_router_configs_version; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.router_configs
    ADD CONSTRAINT uq_router_configs_version UNIQUE (tenant_id, version);


--
-- Name: ix_decision_traces_edgar_window; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_decision_traces_edgar_window ON ONLY public.decision_traces USING btree (edgar_window_id) WHERE (edgar_window_id IS NOT NULL);


--
-- Name: ix_decision_traces_recent; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_decision_traces_recent ON ONLY public.decision_traces USING btree (tenant_id, inserted_at DESC);


--
-- Name: ix_decision_traces_window; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_decision_traces_window ON ONLY public.decision_traces USING btree (feature_window_id);


--
-- Name: ix_drift_reports_scope; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_drift_reports_scope ON public.drift_reports USING btree (tenant_id, profile_name, scope);


--
-- Name: ix_edgar_downloads_cik; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_edgar_downloads_cik ON public.edgar_downloads USING btree (tenant_id, cik, kind);


--
-- Name: ix_edgar_downloads_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_edgar_downloads_status ON public.edgar_downloads USING btree (tenant_id, status, filing_date);


--
-- Name: ix_evaluation_scope; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_evaluation_scope ON public.evaluation_metrics USING btree (tenant_id, scope, actor);


--
-- Name: ix_experts_name; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_experts_name ON public.experts USING btree (tenant_id, name);


--
-- Name: ix_feature_windows_key; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_feature_windows_key ON ONLY public.feature_windows USING btree (tenant_id, kind, key, window_start DESC);


--
-- Name: ix_feature_windows_schema; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_feature_windows_schema ON ONLY public.feature_windows USING btree (tenant_id, feature_schema_version, inserted_at);


--
-- Name: ix_labels_month_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_labels_month_status ON public.labels USING btree (tenant_id, month, status);


--
-- Name: ix_labels_symbol_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_labels_symbol_time ON public.labels USING btree (tenant_id, symbol, window_start);


--
-- Name: ix_labels_window; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_labels_window ON public.labels USING btree (tenant_id, feature_window_id);


--
-- Name: ix_landing_files_kind; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_landing_files_kind ON public.landing_files USING btree (tenant_id, kind, status);


--
-- Name: ix_lineage_from; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_lineage_from ON public.lineage_edges USING btree (from_id);


--
-- Name: ix_lineage_ranges_batch; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_lineage_ranges_batch ON public.lineage_ranges USING btree (tenant_id, batch_id);


--
-- Name: ix_lineage_ranges_node; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_lineage_ranges_node ON public.lineage_ranges USING btree (tenant_id, node_id);


--
-- Name: ix_lineage_to; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_lineage_to ON public.lineage_edges USING btree (to_id);


--
-- Name: ix_outbox_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_outbox_due ON public.outbox USING btree (tenant_id, status, next_attempt_us);


--
-- Name: ix_outbox_ref; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_outbox_ref ON public.outbox USING btree (tenant_id, kind, ref_id, ref_hash);


--
-- Name: ix_pnl_month; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_pnl_month ON public.pnl USING btree (tenant_id, month, symbol, window_start);


--
-- Name: ix_pnl_trace; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_pnl_trace ON public.pnl USING btree (tenant_id, decision_trace_id);


--
-- Name: ix_promotion_events_expert; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_promotion_events_expert ON public.promotion_events USING btree (tenant_id, expert, at_us);


--
-- Name: ix_quarantine_source; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_quarantine_source ON public.quarantine USING btree (tenant_id, stage, source);


--
-- Name: ix_raw_edgar_docs_accession; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_raw_edgar_docs_accession ON public.raw_edgar_docs USING btree (tenant_id, accession);


--
-- Name: ix_raw_edgar_docs_cik; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_raw_edgar_docs_cik ON public.raw_edgar_docs USING btree (tenant_id, cik, accepted_at);


--
-- Name: ix_raw_tick_batches_partition; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_raw_tick_batches_partition ON public.raw_tick_batches USING btree (tenant_id, month, symbol);


--
-- Name: ix_signal_evaluations_run; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_signal_evaluations_run ON public.signal_evaluations USING btree (tenant_id, run_id);


--
-- Name: ix_telemetry_name_ts; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_telemetry_name_ts ON public.telemetry_events USING btree (tenant_id, name, ts);


--
-- Name: api_keys; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.api_keys ENABLE ROW LEVEL SECURITY;

--
-- Name: decision_traces; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.decision_traces ENABLE ROW LEVEL SECURITY;

--
-- Name: drift_profiles; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.drift_profiles ENABLE ROW LEVEL SECURITY;

--
-- Name: drift_reports; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.drift_reports ENABLE ROW LEVEL SECURITY;

--
-- Name: edgar_downloads; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.edgar_downloads ENABLE ROW LEVEL SECURITY;

--
-- Name: evaluation_metrics; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.evaluation_metrics ENABLE ROW LEVEL SECURITY;

--
-- Name: experts; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.experts ENABLE ROW LEVEL SECURITY;

--
-- Name: export_jobs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.export_jobs ENABLE ROW LEVEL SECURITY;

--
-- Name: feature_windows; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.feature_windows ENABLE ROW LEVEL SECURITY;

--
-- Name: flow_state; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.flow_state ENABLE ROW LEVEL SECURITY;

--
-- Name: labels; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.labels ENABLE ROW LEVEL SECURITY;

--
-- Name: landed_content; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.landed_content ENABLE ROW LEVEL SECURITY;

--
-- Name: landing_files; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.landing_files ENABLE ROW LEVEL SECURITY;

--
-- Name: lineage_edges; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.lineage_edges ENABLE ROW LEVEL SECURITY;

--
-- Name: lineage_ranges; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.lineage_ranges ENABLE ROW LEVEL SECURITY;

--
-- Name: outbox; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.outbox ENABLE ROW LEVEL SECURITY;

--
-- Name: partition_steps; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.partition_steps ENABLE ROW LEVEL SECURITY;

--
-- Name: pnl; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.pnl ENABLE ROW LEVEL SECURITY;

--
-- Name: promotion_events; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.promotion_events ENABLE ROW LEVEL SECURITY;

--
-- Name: quarantine; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.quarantine ENABLE ROW LEVEL SECURITY;

--
-- Name: raw_edgar_docs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.raw_edgar_docs ENABLE ROW LEVEL SECURITY;

--
-- Name: raw_tick_batches; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.raw_tick_batches ENABLE ROW LEVEL SECURITY;

--
-- Name: router_configs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.router_configs ENABLE ROW LEVEL SECURITY;

--
-- Name: signal_evaluations; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.signal_evaluations ENABLE ROW LEVEL SECURITY;

--
-- Name: telemetry_events; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.telemetry_events ENABLE ROW LEVEL SECURITY;

--
-- Name: api_keys tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.api_keys USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: decision_traces tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.decision_traces USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: drift_profiles tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.drift_profiles USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: drift_reports tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.drift_reports USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: edgar_downloads tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.edgar_downloads USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: evaluation_metrics tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.evaluation_metrics USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: experts tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.experts USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: export_jobs tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.export_jobs USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: feature_windows tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.feature_windows USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: flow_state tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.flow_state USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: labels tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.labels USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: landed_content tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.landed_content USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: landing_files tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.landing_files USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: lineage_edges tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.lineage_edges USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: lineage_ranges tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.lineage_ranges USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: outbox tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.outbox USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: partition_steps tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.partition_steps USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: pnl tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.pnl USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: promotion_events tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.promotion_events USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: quarantine tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.quarantine USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: raw_edgar_docs tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.raw_edgar_docs USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: raw_tick_batches tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.raw_tick_batches USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: router_configs tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.router_configs USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: signal_evaluations tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.signal_evaluations USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- Name: telemetry_events tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.telemetry_events USING (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true))) WITH CHECK (((tenant_id)::text = current_setting('thunderline.tenant_id'::text, true)));


--
-- PostgreSQL database dump complete
--


