/** The emoticon catalog and keyword rules in use, loaded at start from the configured files. */
export const CONTENT_CATALOGS = Symbol('CONTENT_CATALOGS');
