-- links.lua - pandoc filter for the man pages (make man): a link to
-- another file of the tree or to an anchor means nothing in man(1), so
-- only its text stays; web addresses are kept.
function Link(el)
  if el.target:match('^%a[%w+.-]*:') then
    return el
  end
  return el.content
end
