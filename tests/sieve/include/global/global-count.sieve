require ["include", "variables"];
set "global.n" "${global.n}g";
