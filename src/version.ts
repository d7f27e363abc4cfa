/** Herald's version; `herald --version` prints it. */
export const VERSION = "0.1.0";
