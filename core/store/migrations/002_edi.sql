-- EDI partners: interchanges received (duplicate detection) and sent (the
-- acknowledgement each one expects, and by when).
CREATE TABLE IF NOT EXISTS edi_interchanges_in (
    partner VARCHAR(128) NOT NULL,
    sender VARCHAR(80) NOT NULL,
    control VARCHAR(16) NOT NULL,
    spool_id VARCHAR(255) NULL,
    received_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (partner, sender, control)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS edi_interchanges_out (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    partner VARCHAR(128) NOT NULL,
    outbox_id BIGINT NOT NULL,
    standard VARCHAR(8) NOT NULL,
    message VARCHAR(16) NOT NULL,
    icn BIGINT NOT NULL,
    gcn BIGINT NOT NULL,
    scn BIGINT NOT NULL,
    ack_expected VARCHAR(8) NULL,
    ack_due_at DATETIME(3) NULL,
    ack_status VARCHAR(16) NOT NULL DEFAULT 'none',
    ack_codes VARCHAR(255) NULL,
    ack_at DATETIME(3) NULL,
    overdue_reported TINYINT NOT NULL DEFAULT 0,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY ux_edi_out_outbox (outbox_id),
    KEY ix_edi_out_gcn (partner, gcn),
    KEY ix_edi_out_icn (partner, icn),
    KEY ix_edi_out_due (ack_status, ack_due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
