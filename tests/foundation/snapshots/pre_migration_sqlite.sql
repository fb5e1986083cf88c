-- The warehouse schema as Warehouse.init_schema (metadata.create_all) made it on SQLite before migrations
-- existed (main at 0d94ffc). Made by the pre-migration code; never edit: it is the release being upgraded.
CREATE TABLE raw_tick_batches (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	venue VARCHAR(32) NOT NULL, 
	symbol VARCHAR(64) NOT NULL, 
	month VARCHAR(7) NOT NULL, 
	source VARCHAR(32) NOT NULL, 
	source_file TEXT NOT NULL, 
	path TEXT NOT NULL, 
	seq_min BIGINT NOT NULL, 
	seq_max BIGINT NOT NULL, 
	ts_min BIGINT NOT NULL, 
	ts_max BIGINT NOT NULL, 
	rows BIGINT NOT NULL, 
	sha256 VARCHAR(64) NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_raw_tick_batches_partition ON raw_tick_batches (tenant_id, month, symbol);

CREATE TABLE raw_edgar_docs (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	cik BIGINT NOT NULL, 
	accession VARCHAR(96) NOT NULL, 
	form VARCHAR(16) NOT NULL, 
	doc_kind VARCHAR(32) NOT NULL, 
	company_name TEXT, 
	period_of_report VARCHAR(10), 
	filed_date VARCHAR(10), 
	accepted_at BIGINT NOT NULL, 
	month VARCHAR(7) NOT NULL, 
	source TEXT, 
	amends VARCHAR(96), 
	sections JSON, 
	xbrl JSON, 
	meta JSON, 
	content_hash VARCHAR(64) NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_raw_edgar_docs_accession ON raw_edgar_docs (tenant_id, accession);

CREATE INDEX ix_raw_edgar_docs_cik ON raw_edgar_docs (tenant_id, cik, accepted_at);

CREATE TABLE feature_windows (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	"key" VARCHAR(64) NOT NULL, 
	window_start BIGINT NOT NULL, 
	window_end BIGINT NOT NULL, 
	available_at BIGINT NOT NULL, 
	feature_schema_version VARCHAR(32) NOT NULL, 
	recipe_version VARCHAR(128) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	features JSON NOT NULL, 
	provenance JSON NOT NULL, 
	label_spec JSON, 
	content_hash VARCHAR(64) NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id, window_start)
);

CREATE INDEX ix_feature_windows_key ON feature_windows (tenant_id, kind, "key", window_start DESC);

CREATE INDEX ix_feature_windows_schema ON feature_windows (tenant_id, feature_schema_version, inserted_at);

CREATE TABLE decision_traces (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	feature_window_id VARCHAR(64) NOT NULL, 
	symbol VARCHAR(64) NOT NULL, 
	window_start BIGINT NOT NULL, 
	window_end BIGINT NOT NULL, 
	router_version VARCHAR(64) NOT NULL, 
	gate_scores JSON NOT NULL, 
	selected_experts JSON NOT NULL, 
	expert_actions JSON NOT NULL, 
	blended_action VARCHAR(16) NOT NULL, 
	blended_confidence FLOAT NOT NULL, 
	blended_score FLOAT DEFAULT 0 NOT NULL, 
	risk_flags JSON NOT NULL, 
	embedding JSON NOT NULL, 
	content_hash VARCHAR(64) NOT NULL, 
	edgar_window_id VARCHAR(64), 
	lineage_batch VARCHAR(64), 
	experts_used BIGINT, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id, window_start)
);

CREATE INDEX ix_decision_traces_recent ON decision_traces (tenant_id, inserted_at DESC);

CREATE INDEX ix_decision_traces_window ON decision_traces (feature_window_id);

CREATE INDEX ix_decision_traces_edgar_window ON decision_traces (edgar_window_id) WHERE edgar_window_id IS NOT NULL;

CREATE TABLE experts (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	registered_model VARCHAR(256) NOT NULL, 
	version VARCHAR(32) NOT NULL, 
	alias VARCHAR(32), 
	status VARCHAR(16) NOT NULL, 
	latency_budget_ms FLOAT NOT NULL, 
	meta JSON, 
	inserted_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_experts_name ON experts (tenant_id, name);

CREATE TABLE lineage_edges (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	from_kind VARCHAR(32) NOT NULL, 
	from_id VARCHAR(256) NOT NULL, 
	to_kind VARCHAR(32) NOT NULL, 
	to_id VARCHAR(256) NOT NULL, 
	relation VARCHAR(32) NOT NULL, 
	meta JSON, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_lineage_from ON lineage_edges (from_id);

CREATE INDEX ix_lineage_to ON lineage_edges (to_id);

CREATE TABLE lineage_ranges (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	node_kind VARCHAR(32) NOT NULL, 
	node_id VARCHAR(256) NOT NULL, 
	node_end VARCHAR(4) NOT NULL, 
	relation VARCHAR(32) NOT NULL, 
	batch_id VARCHAR(64) NOT NULL, 
	bit INTEGER, 
	first_trace_id VARCHAR(64) NOT NULL, 
	last_trace_id VARCHAR(64) NOT NULL, 
	traces BIGINT NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_lineage_ranges_batch ON lineage_ranges (tenant_id, batch_id);

CREATE INDEX ix_lineage_ranges_node ON lineage_ranges (tenant_id, node_id);

CREATE TABLE export_jobs (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	slice_name VARCHAR(128) NOT NULL, 
	spec JSON NOT NULL, 
	manifest JSON, 
	path TEXT, 
	status VARCHAR(16) NOT NULL, 
	rows BIGINT, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE TABLE quarantine (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	stage VARCHAR(32) NOT NULL, 
	source TEXT NOT NULL, 
	row_number BIGINT, 
	field VARCHAR(128), 
	reason TEXT NOT NULL, 
	raw TEXT, 
	partition_key VARCHAR(64), 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_quarantine_source ON quarantine (tenant_id, stage, source);

CREATE TABLE telemetry_events (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	value FLOAT NOT NULL, 
	ts BIGINT NOT NULL, 
	tags JSON, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_telemetry_name_ts ON telemetry_events (tenant_id, name, ts);

CREATE TABLE router_configs (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	version VARCHAR(64) NOT NULL, 
	parent_version VARCHAR(64), 
	config JSON NOT NULL, 
	gates JSON NOT NULL, 
	experts JSON NOT NULL, 
	reason TEXT, 
	is_active BOOLEAN NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id), 
	CONSTRAINT uq_router_configs_version UNIQUE (tenant_id, version)
);

CREATE TABLE landing_files (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	path TEXT NOT NULL, 
	format VARCHAR(32) NOT NULL, 
	size BIGINT NOT NULL, 
	partitions JSON NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	detail TEXT, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_landing_files_kind ON landing_files (tenant_id, kind, status);

CREATE TABLE drift_profiles (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	feature_schema_version VARCHAR(32) NOT NULL, 
	n_bins INTEGER NOT NULL, 
	epsilon FLOAT NOT NULL, 
	n_features INTEGER NOT NULL, 
	profile JSON NOT NULL, 
	content_hash VARCHAR(64) NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id), 
	CONSTRAINT uq_drift_profiles_name UNIQUE (tenant_id, name, feature_schema_version)
);

CREATE TABLE drift_reports (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	profile_name VARCHAR(128) NOT NULL, 
	profile_hash VARCHAR(64) NOT NULL, 
	feature_schema_version VARCHAR(32) NOT NULL, 
	scope VARCHAR(64) NOT NULL, 
	feature VARCHAR(128) NOT NULL, 
	psi FLOAT, 
	ks_statistic FLOAT, 
	ks_pvalue FLOAT, 
	status VARCHAR(8) NOT NULL, 
	n_baseline BIGINT NOT NULL, 
	n_current BIGINT NOT NULL, 
	detail JSON NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_drift_reports_scope ON drift_reports (tenant_id, profile_name, scope);

CREATE TABLE flow_state (
	id VARCHAR(128) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	state JSON NOT NULL, 
	revision BIGINT NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE TABLE api_keys (
	id VARCHAR(32) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	label VARCHAR(128), 
	hash VARCHAR(256) NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked_at DATETIME, 
	PRIMARY KEY (id, tenant_id)
);

CREATE TABLE outbox (
	id VARCHAR(200) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	ref_id VARCHAR(64) NOT NULL, 
	ref_hash VARCHAR(64) NOT NULL, 
	symbol VARCHAR(64) NOT NULL, 
	subject VARCHAR(256) NOT NULL, 
	payload TEXT NOT NULL, 
	status VARCHAR(8) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_us BIGINT NOT NULL, 
	last_error TEXT, 
	created_us BIGINT NOT NULL, 
	sent_us BIGINT, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_outbox_ref ON outbox (tenant_id, kind, ref_id, ref_hash);

CREATE INDEX ix_outbox_due ON outbox (tenant_id, status, next_attempt_us);

CREATE TABLE labels (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	feature_window_id VARCHAR(64) NOT NULL, 
	symbol VARCHAR(64) NOT NULL, 
	month VARCHAR(7) NOT NULL, 
	window_start BIGINT NOT NULL, 
	window_end BIGINT NOT NULL, 
	available_at BIGINT NOT NULL, 
	spec_id VARCHAR(32) NOT NULL, 
	spec JSON NOT NULL, 
	horizon INTEGER NOT NULL, 
	label_type VARCHAR(8) NOT NULL, 
	status VARCHAR(8) NOT NULL, 
	filled BOOLEAN NOT NULL, 
	fwd_return FLOAT, 
	label VARCHAR(8), 
	realised_at BIGINT, 
	latency_us BIGINT, 
	entry_spread_bps FLOAT, 
	exit_spread_bps FLOAT, 
	filled_at DATETIME, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_labels_window ON labels (tenant_id, feature_window_id);

CREATE INDEX ix_labels_symbol_time ON labels (tenant_id, symbol, window_start);

CREATE INDEX ix_labels_month_status ON labels (tenant_id, month, status);

CREATE TABLE pnl (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	decision_trace_id VARCHAR(64) NOT NULL, 
	feature_window_id VARCHAR(64) NOT NULL, 
	symbol VARCHAR(64) NOT NULL, 
	month VARCHAR(7) NOT NULL, 
	window_start BIGINT NOT NULL, 
	router_version VARCHAR(64) NOT NULL, 
	cost_model VARCHAR(64) NOT NULL, 
	horizon INTEGER NOT NULL, 
	action VARCHAR(16) NOT NULL, 
	confidence FLOAT NOT NULL, 
	position FLOAT NOT NULL, 
	fwd_return FLOAT NOT NULL, 
	gross FLOAT NOT NULL, 
	cost FLOAT NOT NULL, 
	net FLOAT NOT NULL, 
	attribution JSON NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_pnl_trace ON pnl (tenant_id, decision_trace_id);

CREATE INDEX ix_pnl_month ON pnl (tenant_id, month, symbol, window_start);

CREATE TABLE evaluation_metrics (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	scope VARCHAR(64) NOT NULL, 
	actor VARCHAR(128) NOT NULL, 
	version VARCHAR(64) NOT NULL, 
	basis VARCHAR(16) NOT NULL, 
	cost_model VARCHAR(64) NOT NULL, 
	n BIGINT NOT NULL, 
	n_positions BIGINT NOT NULL, 
	hit_rate FLOAT, 
	ic FLOAT, 
	turnover FLOAT, 
	max_drawdown FLOAT, 
	gross FLOAT NOT NULL, 
	cost FLOAT NOT NULL, 
	net FLOAT NOT NULL, 
	detail JSON, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_evaluation_scope ON evaluation_metrics (tenant_id, scope, actor);

CREATE TABLE promotion_events (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	expert VARCHAR(128) NOT NULL, 
	registered_model VARCHAR(256) NOT NULL, 
	version VARCHAR(32) NOT NULL, 
	from_state VARCHAR(16) NOT NULL, 
	to_state VARCHAR(16) NOT NULL, 
	decision VARCHAR(16) NOT NULL, 
	previous_champion VARCHAR(32), 
	champion_after VARCHAR(32), 
	actor VARCHAR(128) NOT NULL, 
	reason TEXT NOT NULL, 
	metrics JSON NOT NULL, 
	mlflow_run_id VARCHAR(64), 
	at_us BIGINT NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_promotion_events_expert ON promotion_events (tenant_id, expert, at_us);

CREATE TABLE signal_evaluations (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	run_id VARCHAR(64) NOT NULL, 
	fold INTEGER NOT NULL, 
	train_start BIGINT NOT NULL, 
	train_end BIGINT NOT NULL, 
	test_start BIGINT NOT NULL, 
	test_end BIGINT NOT NULL, 
	model VARCHAR(128) NOT NULL, 
	horizon_ms INTEGER NOT NULL, 
	n BIGINT NOT NULL, 
	rank_ic FLOAT, 
	rank_ic_lo FLOAT, 
	rank_ic_hi FLOAT, 
	ic FLOAT, 
	ic_lo FLOAT, 
	ic_hi FLOAT, 
	hit_rate FLOAT, 
	turnover FLOAT, 
	net_bps FLOAT, 
	null_band FLOAT, 
	detail JSON, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_signal_evaluations_run ON signal_evaluations (tenant_id, run_id);

CREATE TABLE partition_steps (
	tenant_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	partition_key VARCHAR(160) NOT NULL, 
	step VARCHAR(64) NOT NULL, 
	inputs VARCHAR(64) NOT NULL, 
	files INTEGER NOT NULL, 
	committed_at DATETIME NOT NULL, 
	PRIMARY KEY (tenant_id, kind, partition_key, step)
);

CREATE TABLE landed_content (
	id VARCHAR(64) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	stored_path TEXT NOT NULL, 
	size BIGINT NOT NULL, 
	inserted_at DATETIME NOT NULL, 
	PRIMARY KEY (id, tenant_id)
);

CREATE TABLE edgar_downloads (
	id VARCHAR(200) NOT NULL, 
	tenant_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	cik BIGINT NOT NULL, 
	accession VARCHAR(32), 
	form VARCHAR(16), 
	filing_date VARCHAR(10), 
	accepted_at BIGINT, 
	seq INTEGER NOT NULL, 
	url TEXT NOT NULL, 
	dest TEXT NOT NULL, 
	status VARCHAR(8) NOT NULL, 
	attempts INTEGER NOT NULL, 
	claimed_by VARCHAR(128), 
	claimed_us BIGINT, 
	etag TEXT, 
	last_modified TEXT, 
	sha256 VARCHAR(64), 
	bytes BIGINT, 
	http_status INTEGER, 
	last_error TEXT, 
	created_us BIGINT NOT NULL, 
	done_us BIGINT, 
	PRIMARY KEY (id, tenant_id)
);

CREATE INDEX ix_edgar_downloads_status ON edgar_downloads (tenant_id, status, filing_date);

CREATE INDEX ix_edgar_downloads_cik ON edgar_downloads (tenant_id, cik, kind);
