"""The cards domain: monthly invoice and payment files -> the 48-variable book (/work/shared/specs/cards_book.md)."""
