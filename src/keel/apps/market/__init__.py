"""market: vendors, sellers, products and customer chats."""
