"""Generated hostile submissions (built in tmp folders by the tests; nothing binary is committed)."""
