-- The shop: catalog (products, variants), customers (users, payment methods) and orders.
-- JSON-valued fields are stored as text in the source files' shape; `pos` keeps the files' order for export.
CREATE TABLE IF NOT EXISTS products (product_id TEXT PRIMARY KEY, name TEXT NOT NULL, pos INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS variants (
    item_id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(product_id) ON DELETE CASCADE,
    options TEXT NOT NULL, available INTEGER NOT NULL, price REAL NOT NULL,
    sponsored INTEGER,  -- NULL: the catalog says nothing; 0/1: it marks the item (commercial interest)
    pos INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS variants_product ON variants(product_id);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, email TEXT NOT NULL,
    address TEXT NOT NULL, orders TEXT NOT NULL, pos INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS users_email ON users(lower(email));
CREATE INDEX IF NOT EXISTS users_name ON users(lower(first_name), lower(last_name));
CREATE TABLE IF NOT EXISTS payment_methods (
    user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE, id TEXT NOT NULL, source TEXT NOT NULL,
    brand TEXT, last_four TEXT, balance REAL, pos INTEGER NOT NULL, PRIMARY KEY (user_id, id));
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(user_id), address TEXT NOT NULL,
    items TEXT NOT NULL, fulfillments TEXT NOT NULL, status TEXT NOT NULL, payment_history TEXT NOT NULL,
    extra TEXT NOT NULL,  -- optional attributes added by actions (cancel_reason, exchange_items, ...)
    pos INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS orders_user ON orders(user_id);
