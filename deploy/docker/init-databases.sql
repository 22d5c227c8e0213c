-- One database per service, as `make dev` creates them.
CREATE DATABASE tb_ingest;
CREATE DATABASE tb_mapping;
CREATE DATABASE tb_conflict_resolver;
CREATE DATABASE tb_invoice_export;
CREATE DATABASE tb_reporting;
CREATE DATABASE tb_contracts;
CREATE DATABASE tb_credentials;
