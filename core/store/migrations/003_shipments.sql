-- Shipments become documents of their own: unique per (channel, external_id)
-- of the channel that reported them, with the content hash that makes a
-- repeated shipment "unchanged"; orders can be found by external id alone
-- (a 3PL's shipment confirmation rarely knows which storefront the order
-- came from).
ALTER TABLE shipments
    ADD COLUMN IF NOT EXISTS channel VARCHAR(128) NULL AFTER id,
    ADD COLUMN IF NOT EXISTS content_sha256 CHAR(64) NULL AFTER packages,
    ADD COLUMN IF NOT EXISTS updated_at DATETIME(3) NULL,
    ADD UNIQUE KEY IF NOT EXISTS ux_shipments_channel_ext (channel, external_id);
ALTER TABLE orders
    ADD KEY IF NOT EXISTS ix_orders_external_id (external_id);
