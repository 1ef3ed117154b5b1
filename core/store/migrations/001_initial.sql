-- 001_initial: the first schema (DESIGN §3.3).
-- Conventions: InnoDB, utf8mb4 with binary collation (identifiers from
-- sources are case-sensitive: "PO-1" and "po-1" are two orders), money and
-- quantities DECIMAL(19,4), times DATETIME(3) in UTC (every session runs
-- with time_zone '+00:00'). No foreign keys: the store is the only writer
-- and deletes children itself; FK checks would cost shared locks on the
-- ingest path. Statements are separated by ";" at the end of a line.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS channels (
    name VARCHAR(128) NOT NULL PRIMARY KEY,
    type VARCHAR(64) NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS documents (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    channel VARCHAR(128) NOT NULL,
    spool_id VARCHAR(255) NOT NULL,
    sha256 CHAR(64) NULL,
    source VARCHAR(1024) NULL,
    format VARCHAR(32) NULL,
    status VARCHAR(16) NOT NULL,
    error TEXT NULL,
    received_at DATETIME(3) NULL,
    processed_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_documents_spool (channel, spool_id),
    KEY ix_documents_status (status, processed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS orders (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    channel VARCHAR(128) NOT NULL,
    external_id VARCHAR(255) NOT NULL,
    number VARCHAR(255) NULL,
    status VARCHAR(32) NOT NULL DEFAULT 'pending',
    placed_at DATETIME(3) NULL,
    updated_at DATETIME(3) NULL,
    currency CHAR(3) NULL,
    subtotal DECIMAL(19,4) NULL,
    shipping_total DECIMAL(19,4) NULL,
    tax_total DECIMAL(19,4) NULL,
    discount_total DECIMAL(19,4) NULL,
    total DECIMAL(19,4) NULL,
    po_number VARCHAR(255) NULL,
    notes TEXT NULL,
    tags TEXT NULL,
    customer_external_id VARCHAR(255) NULL,
    customer_email VARCHAR(320) NULL,
    customer_name VARCHAR(255) NULL,
    customer_phone VARCHAR(64) NULL,
    ship_method VARCHAR(255) NULL,
    ship_by DATETIME(3) NULL,
    deliver_by DATETIME(3) NULL,
    partner_sender_id VARCHAR(64) NULL,
    partner_receiver_id VARCHAR(64) NULL,
    content_sha256 CHAR(64) NOT NULL,
    doc_id BIGINT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    modified_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_orders_external (channel, external_id),
    KEY ix_orders_placed (placed_at),
    KEY ix_orders_channel_placed (channel, placed_at),
    KEY ix_orders_customer_email (customer_email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- seq is the position in the canonical lines[] (kept so lines come back in
-- the order they arrived); line_no is the source's own number.
CREATE TABLE IF NOT EXISTS order_lines (
    order_id BIGINT NOT NULL,
    seq INT NOT NULL,
    line_no INT NOT NULL,
    external_id VARCHAR(255) NULL,
    sku VARCHAR(255) NULL,
    gtin VARCHAR(32) NULL,
    title VARCHAR(1024) NULL,
    qty DECIMAL(19,4) NOT NULL,
    uom VARCHAR(16) NULL,
    unit_price DECIMAL(19,4) NULL,
    tax DECIMAL(19,4) NULL,
    discount DECIMAL(19,4) NULL,
    PRIMARY KEY (order_id, seq),
    KEY ix_order_lines_sku (sku)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS addresses (
    order_id BIGINT NOT NULL,
    role ENUM('bill_to','ship_to') NOT NULL,
    name VARCHAR(255) NULL,
    company VARCHAR(255) NULL,
    line1 VARCHAR(255) NULL,
    line2 VARCHAR(255) NULL,
    city VARCHAR(128) NULL,
    region VARCHAR(128) NULL,
    postal_code VARCHAR(32) NULL,
    country CHAR(2) NULL,
    phone VARCHAR(64) NULL,
    email VARCHAR(320) NULL,
    PRIMARY KEY (order_id, role)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS shipments (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id BIGINT NOT NULL,
    external_id VARCHAR(255) NULL,
    carrier VARCHAR(64) NULL,
    service VARCHAR(128) NULL,
    tracking_number VARCHAR(128) NULL,
    label_format VARCHAR(8) NULL,
    label_path VARCHAR(1024) NULL,
    shipped_at DATETIME(3) NULL,
    packages TEXT NULL,
    doc_id BIGINT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_shipments_order (order_id),
    KEY ix_shipments_tracking (tracking_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS shipment_lines (
    shipment_id BIGINT NOT NULL,
    seq INT NOT NULL,
    line_no INT NULL,
    sku VARCHAR(255) NULL,
    qty DECIMAL(19,4) NOT NULL,
    PRIMARY KEY (shipment_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS inventory (
    sku VARCHAR(255) NOT NULL,
    location VARCHAR(128) NOT NULL DEFAULT '',
    on_hand DECIMAL(19,4) NOT NULL DEFAULT 0,
    reserved DECIMAL(19,4) NOT NULL DEFAULT 0,
    available DECIMAL(19,4) NOT NULL DEFAULT 0,
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (sku, location)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS cursors (
    channel VARCHAR(128) NOT NULL,
    name VARCHAR(128) NOT NULL,
    value TEXT NULL,
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (channel, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- seen_key holds the key itself, or "sha256:" + hex of it when the key is
-- longer than 255 bytes.
CREATE TABLE IF NOT EXISTS seen_keys (
    channel VARCHAR(128) NOT NULL,
    seen_key VARBINARY(255) NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (channel, seen_key),
    KEY ix_seen_keys_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS outbox (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event VARCHAR(64) NOT NULL,
    target VARCHAR(128) NOT NULL,
    origin VARCHAR(128) NULL,
    order_id BIGINT NULL,
    payload LONGTEXT NOT NULL,
    state ENUM('pending','leased','done','dead') NOT NULL DEFAULT 'pending',
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    lease_owner VARCHAR(128) NULL,
    lease_until DATETIME(3) NULL,
    last_error TEXT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    done_at DATETIME(3) NULL,
    KEY ix_outbox_due (state, next_attempt_at),
    KEY ix_outbox_lease (state, lease_until),
    KEY ix_outbox_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS edi_control_numbers (
    partner VARCHAR(64) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    value BIGINT NOT NULL DEFAULT 0,
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (partner, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS leases (
    name VARCHAR(128) NOT NULL PRIMARY KEY,
    owner VARCHAR(128) NOT NULL,
    expires_at DATETIME(3) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS audit_log (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    actor VARCHAR(128) NOT NULL,
    action VARCHAR(64) NOT NULL,
    detail TEXT NULL,
    KEY ix_audit_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
