//! A script stored where a browser would run it: no type the bytes or extension do not establish, and nothing but inert types inline.
